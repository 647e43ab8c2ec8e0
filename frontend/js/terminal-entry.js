// xterm.js and its fit addon for the playground terminal, re-exported as one ES module (bundled by esbuild into
// js/terminal.js) so the Rust side binds the classes with wasm-bindgen instead of reading globals.
// xterm renders with its DOM renderer (the default without the canvas/webgl addons): rows are `.xterm-rows > div`,
// which tests and screen readers can read.
export { Terminal } from "@xterm/xterm";
export { FitAddon } from "@xterm/addon-fit";
