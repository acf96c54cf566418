/** One line for `wskit --help`. */
export const summary = 'not implemented yet';
/** `wskit bench --help`. */
export const help = 'Usage: wskit bench (not implemented yet)';
/** Runs the command. */
export async function run(_args: string[]): Promise<number> {
  process.stderr.write('wskit bench: not implemented yet\n');
  return 1;
}
