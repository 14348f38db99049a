// The environment a command was given: app.ts reads process.env once and hands it down as a plain object, so
// that nothing below the entry floor reads process.env (proxies, the config's path).

/** Environment variables by name. */
export type Env = Readonly<Record<string, string | undefined>>;
