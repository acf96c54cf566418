/**
 * The `wskit` command run from the TypeScript sources (`npm start` runs `wskit echo` with it): what bin/wskit.js
 * does with the built dist/, without a build.
 */
import { main } from '../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
