// TensorBoard's event file format, written without TensorFlow. A file is a sequence of TFRecords (a little-endian
// uint64 length, the masked CRC32C of those 8 bytes, the data, the masked CRC32C of the data), each holding one
// `Event` protobuf (tensorboard/compat/proto/event.proto). Only the fields transformers' TensorBoardCallback makes
// torch's SummaryWriter write are encoded, by hand and in field-number order as protobuf serializes them, so the
// bytes equal SummaryWriter's: wall_time, step, file_version, and a Summary with one scalar (simple_value) or one
// text tensor (torch.utils.tensorboard.summary.text). No npm package writes this format and is maintained.

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum TFRecord frames carry. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masking (rotate right by 15, add a constant): a CRC of data that holds CRCs stays meaningful. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord frame around `data`. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// --- protobuf wire format: varint keys, length-delimited messages and strings, fixed64 double, fixed32 float ---

function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return bytes;
}

const key = (field: number, wireType: number) => varint(field * 8 + wireType);

function concat(parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const lengthDelimited = (field: number, bytes: Uint8Array): Uint8Array =>
  concat([key(field, 2), varint(bytes.length), bytes]);
const utf8 = (text: string) => new TextEncoder().encode(text);

function fixed(field: number, wireType: 1 | 5, value: number): Uint8Array {
  const out = new Uint8Array(wireType === 1 ? 8 : 4);
  const view = new DataView(out.buffer);
  if (wireType === 1) view.setFloat64(0, value, true);
  else view.setFloat32(0, value, true);
  return concat([key(field, wireType), out]);
}

/** Summary { Value { tag = 1; simple_value = 2 (float) } } (summary.proto), as SummaryWriter.add_scalar writes it. */
export function scalarSummary(tag: string, value: number): Uint8Array {
  return lengthDelimited(1, concat([lengthDelimited(1, utf8(tag)), fixed(2, 5, value)]));
}

const DT_STRING = 7;

/**
 * SummaryWriter.add_text's Summary: tag `<tag>/text_summary`, a string tensor of shape [1] (TensorProto: dtype = 1,
 * tensor_shape = 2 { dim = 2 { size = 1 } }, string_val = 8) and metadata naming the text plugin (Value: tensor = 8,
 * metadata = 9 { plugin_data = 1 { plugin_name = 1 } }; TextPluginData(version=0) serializes to nothing).
 */
export function textSummary(tag: string, text: string): Uint8Array {
  const shape = lengthDelimited(2, lengthDelimited(2, Uint8Array.from([...key(1, 0), ...varint(1)])));
  const tensor = concat([key(1, 0), varint(DT_STRING), shape, lengthDelimited(8, utf8(text))]);
  const metadata = lengthDelimited(1, lengthDelimited(1, utf8('text')));
  const value = concat([
    lengthDelimited(1, utf8(`${tag}/text_summary`)),
    lengthDelimited(8, tensor),
    lengthDelimited(9, metadata),
  ]);
  return lengthDelimited(1, value);
}

export interface EventFields {
  /** Seconds since the epoch. */
  wallTime: number;
  /** Omitted (as protobuf omits a zero) for 0. */
  step?: number;
  fileVersion?: string;
  /** SourceMetadata.writer: which program wrote the file (the file_version event carries it). */
  writer?: string;
  /** A serialized Summary (scalarSummary, textSummary). */
  summary?: Uint8Array;
}

/**
 * Event { wall_time = 1 (double); step = 2 (int64); file_version = 3; summary = 5; source_metadata = 10 { writer = 1 } }:
 * zero and unset fields omitted.
 */
export function eventBytes(event: EventFields): Uint8Array {
  const parts: (Uint8Array | number[])[] = [];
  if (event.wallTime !== 0) parts.push(fixed(1, 1, event.wallTime));
  if (event.step) parts.push([...key(2, 0), ...varint(event.step)]);
  if (event.fileVersion !== undefined) parts.push(lengthDelimited(3, utf8(event.fileVersion)));
  if (event.summary !== undefined) parts.push(lengthDelimited(5, event.summary));
  if (event.writer !== undefined) parts.push(lengthDelimited(10, lengthDelimited(1, utf8(event.writer))));
  return concat(parts);
}

/** The first record of every event file: the format version TensorBoard checks. */
export const FILE_VERSION = 'brain.Event:2';
