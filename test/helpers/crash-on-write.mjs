/**
 * Preloaded into an ensdef process (`node --import`) to simulate a crash in the middle of writing a file,
 * deterministically: the CRASH_ON_WRITE_COUNT-th (default 1st) time the process opens for writing a file
 * whose name contains CRASH_ON_WRITE, it writes only the first half of the bytes, then SIGKILLs itself.
 * Covers every synchronous way to write (openSync + writeSync, writeFileSync, appendFileSync), so a writer
 * that replaces the target in place, instead of writing a temp file and renaming it, is caught as well.
 * Plain JavaScript because it loads before tsx is registered.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename } from 'node:path';

const pattern = process.env.CRASH_ON_WRITE;
const crashAt = Number(process.env.CRASH_ON_WRITE_COUNT ?? '1');

if (pattern) {
  const { openSync, writeSync, writeFileSync, appendFileSync } = fs;
  let seen = 0;
  let doomedFd;
  // writeFileSync of a Buffer goes through fs.openSync; that open is the same write, not another one.
  let insideWholeFileWrite = false;

  const isTarget = (path) => (typeof path === 'string' || path instanceof URL) && basename(String(path)).includes(pattern);
  const opensForWriting = (flags) => typeof flags === 'string' && /[wa+]/.test(flags);
  const crash = () => process.kill(process.pid, 'SIGKILL');
  const half = (data) => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return bytes.subarray(0, Math.floor(bytes.length / 2));
  };

  fs.openSync = (path, flags, ...rest) => {
    const fd = openSync(path, flags, ...rest);
    if (!insideWholeFileWrite && opensForWriting(flags) && isTarget(path) && ++seen === crashAt) doomedFd = fd;
    return fd;
  };
  fs.writeSync = (fd, data, ...rest) => {
    if (fd !== doomedFd) return writeSync(fd, data, ...rest);
    const [offset = 0, length = data.length - offset] = typeof data === 'string' ? [] : rest;
    writeSync(fd, half(typeof data === 'string' ? data : data.subarray(offset, offset + length)));
    return crash();
  };
  const wholeFile = (original) => (path, data, ...rest) => {
    if (isTarget(path) && ++seen === crashAt) {
      original(path, half(data));
      return crash();
    }
    insideWholeFileWrite = true;
    try {
      return original(path, data, ...rest);
    } finally {
      insideWholeFileWrite = false;
    }
  };
  fs.writeFileSync = wholeFile(writeFileSync);
  fs.appendFileSync = wholeFile(appendFileSync);
  syncBuiltinESMExports();
}
