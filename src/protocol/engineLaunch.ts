// How the host starts the engine process: its EngineWorkerData travels as JSON in one environment
// variable (argv would show it in process listings and is limited in length on Windows).
export const ENGINE_DATA_ENV = 'MOE_WORKBENCH_ENGINE_DATA';
