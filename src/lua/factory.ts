// One wasmoon factory for the process: its WebAssembly module is compiled once (~25 ms) and
// every Lua state (the script's, a SIGHUP reload's) is created from it. (Starting that
// compilation early, during the CLI's module loading, saved ~25 ms but hung the process now
// and then: V8's background compile thread waited for a GC the main thread never ran.)
import { LuaFactory } from 'wasmoon';

let factory: LuaFactory | null = null;

export function luaFactory(): LuaFactory {
  factory ??= new LuaFactory();
  return factory;
}
