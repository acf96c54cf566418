/** `flags` with `bit` set when `on`, cleared when not: the setter of a boolean kept as a bit of a state integer. */
export function withBit(flags: number, bit: number, on: boolean): number {
  return on ? flags | bit : flags & ~bit;
}
