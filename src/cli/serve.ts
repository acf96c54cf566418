/** One line for `wskit --help`. */
export const summary = 'not implemented yet';
/** `wskit serve --help`. */
export const help = 'Usage: wskit serve (not implemented yet)';
/** Runs the command. */
export async function run(_args: string[]): Promise<number> {
  process.stderr.write('wskit serve: not implemented yet\n');
  return 1;
}
