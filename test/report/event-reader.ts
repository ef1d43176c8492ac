// A small reader of TensorBoard event files for the tests, independent of the writer: TFRecord frames with both
// CRCs checked, and the Event / Summary fields report_to: tensorboard writes, decoded by a generic protobuf walk.
import { maskedCrc32c } from '../../src/report/tensorboard-events.js';

export interface ReadEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** SourceMetadata.writer. */
  writer?: string;
  /** A scalar (simple_value) or a text tensor (string_val[0]), with the plugin the metadata names. */
  value?: { tag: string; scalar?: number; text?: string; plugin?: string };
}

type Field = { field: number; wire: number; varint?: number; bytes?: Uint8Array };

function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = buf[i++]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return value;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 0) out.push({ field, wire, varint: varint() });
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      out.push({ field, wire, bytes: buf.subarray(i, i + n) });
      i += n;
    } else if (wire === 2) {
      const n = varint();
      out.push({ field, wire, bytes: buf.subarray(i, i + n) });
      i += n;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

const one = (fs: Field[], field: number) => fs.find((f) => f.field === field);
const text = (b?: Uint8Array) => (b ? new TextDecoder().decode(b) : undefined);
const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function summaryValue(summary: Uint8Array): ReadEvent['value'] {
  const values = fields(summary).filter((f) => f.field === 1);
  if (values.length !== 1) throw new Error(`a Summary with ${values.length} values`);
  const v = fields(values[0]!.bytes!);
  const simple = one(v, 2);
  const tensor = one(v, 8)?.bytes;
  const metadata = one(v, 9)?.bytes;
  const plugin = metadata && one(fields(one(fields(metadata), 1)!.bytes!), 1)?.bytes;
  return {
    tag: text(one(v, 1)!.bytes)!,
    ...(simple ? { scalar: view(simple.bytes!).getFloat32(0, true) } : {}),
    ...(tensor ? { text: text(one(fields(tensor), 8)!.bytes) } : {}),
    ...(plugin ? { plugin: text(plugin) } : {}),
  };
}

export function readEvents(file: Uint8Array): ReadEvent[] {
  const events: ReadEvent[] = [];
  let i = 0;
  while (i < file.length) {
    const header = file.subarray(i, i + 8);
    const length = Number(view(header).getBigUint64(0, true));
    if (view(file.subarray(i + 8, i + 12)).getUint32(0, true) !== maskedCrc32c(header))
      throw new Error(`bad length CRC at byte ${i}`);
    const data = file.subarray(i + 12, i + 12 + length);
    if (view(file.subarray(i + 12 + length, i + 16 + length)).getUint32(0, true) !== maskedCrc32c(data))
      throw new Error(`bad data CRC at byte ${i}`);
    i += 16 + length;
    const f = fields(data);
    const wall = one(f, 1);
    const summary = one(f, 5);
    events.push({
      wallTime: wall ? view(wall.bytes!).getFloat64(0, true) : 0,
      step: one(f, 2)?.varint ?? 0,
      ...(one(f, 3) ? { fileVersion: text(one(f, 3)!.bytes) } : {}),
      ...(one(f, 10) ? { writer: text(one(fields(one(f, 10)!.bytes!), 1)!.bytes) } : {}),
      ...(summary ? { value: summaryValue(summary.bytes!) } : {}),
    });
  }
  return events;
}
