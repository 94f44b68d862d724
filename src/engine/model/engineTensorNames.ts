// Names of the tensors the engine derives from a checkpoint's expert weights: the layout the
// com.microsoft MoE operator takes (fc1 [E, 2I, H] with gate and up rows interleaved, fc2 [E, H, I]).

export function expertFc1Name(layer: number): string {
  return `model.layers.${layer}.experts.fc1`;
}

export function expertFc2Name(layer: number): string {
  return `model.layers.${layer}.experts.fc2`;
}
