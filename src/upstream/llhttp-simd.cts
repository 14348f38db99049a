// The bytes of undici's SIMD HTTP parser (WebAssembly), as undici's own require() of the same file gets
// them: one module instance, so the file is read and decoded once (bundled by esbuild, undici and this
// share its module; unbundled, Node's module cache). In CommonJS because an ES import of a CommonJS module
// that exports a Buffer copies the Buffer's 54 000 indexes one by one in the bundle (esbuild's interop,
// ~100 ms), where this module exports a function that returns it.
export = {
  // A require() when first called, not an `import = require` (loaded with this module): the sync asks for
  // it when it makes its HTTP client, and no command that makes none pays for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  load: (): unknown => require('undici/lib/llhttp/llhttp_simd-wasm.js'),
};
