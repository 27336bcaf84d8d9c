/** IDX files (the MNIST format): magic 0x0000 0x08 <ndim>, big-endian dims, then uint8 data. */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../errors.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** Reads a file, gunzipping it when it starts with the gzip magic. */
export function readMaybeGzip(path: string, what: string): Buffer {
  if (!existsSync(path)) throw new UserError(`${what}: file not found: ${path}`);
  const raw = readFileSync(path);
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch {
      throw new UserError(`${path}: corrupt gzip data; delete it and fetch it again (ensdef data fetch)`);
    }
  }
  return raw;
}

export function parseIdx(buffer: Buffer, path: string): IdxArray {
  const fix = 'replace it with an intact copy (ensdef data fetch mnist, or the official IDX files)';
  if (buffer.length < 4) throw new UserError(`${path}: truncated IDX file (${buffer.length} bytes); ${fix}`);
  if (buffer[0] !== 0 || buffer[1] !== 0 || buffer[2] !== UBYTE || buffer[3] < 1) {
    throw new UserError(`${path}: not an unsigned-byte IDX file (wrong magic ${buffer.subarray(0, 4).toString('hex')}); ${fix}`);
  }
  const ndim = buffer[3];
  const headerBytes = 4 + 4 * ndim;
  if (buffer.length < headerBytes) throw new UserError(`${path}: truncated IDX header; ${fix}`);
  const dims = Array.from({ length: ndim }, (_, i) => buffer.readUInt32BE(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buffer.length - headerBytes;
  if (actual !== expected) {
    throw new UserError(`${path}: IDX header promises ${expected} bytes of data (dims ${dims.join('x')}) but the file holds ${actual}; ${fix}`);
  }
  return { dims, data: new Uint8Array(buffer.buffer, buffer.byteOffset + headerBytes, expected) };
}

export function readIdx(path: string, what: string): IdxArray {
  return parseIdx(readMaybeGzip(path, what), path);
}

/** Encodes an IDX file (used by tests to write their own small data sets). */
export function encodeIdx(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = UBYTE;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
