// Types for the undici modules the upstream client imports by path instead of undici's index, which also
// loads fetch, WebSocket, the caches and the mock agents (README "Benchmark"). undici has no exports map, so
// these paths resolve as they are; the types are the index's own where it has them.
declare module 'undici/lib/dispatcher/env-http-proxy-agent.js' {
  import type { EnvHttpProxyAgent } from 'undici';
  const EnvHttpProxyAgentClass: typeof EnvHttpProxyAgent;
  export default EnvHttpProxyAgentClass;
}

declare module 'undici/lib/interceptor/redirect.js' {
  import type { interceptors } from 'undici';
  const createRedirectInterceptor: typeof interceptors.redirect;
  export default createRedirectInterceptor;
}

/** The base class of every dispatcher (Agent, Pool, Client, the proxy agents, a composed one). */
declare module 'undici/lib/dispatcher/dispatcher.js' {
  const Dispatcher: { readonly prototype: object };
  export default Dispatcher;
}

/** request, stream, pipeline, upgrade and connect: the index makes them methods of every dispatcher. */
declare module 'undici/lib/api/index.js' {
  const api: object;
  export default api;
}
