// A command is an id and what it does; extension.ts registers every one.
import type { CommandId } from '../ids';

export interface Command {
  readonly id: CommandId;
  execute(...args: unknown[]): unknown;
}
