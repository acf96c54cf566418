/** Records any uncaught exception or unhandled rejection so a test can fail on it. */
export const escaped: unknown[] = [];
process.on('uncaughtException', (error) => escaped.push(error));
process.on('unhandledRejection', (reason) => escaped.push(reason));
