import { ProtoWriter } from './protobuf.js';

/**
 * Just enough of ONNX's ModelProto (onnx/onnx.proto, field numbers as published there) to write a
 * small inference graph of standard operators with float32/int64 tensors.
 */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

export type AttributeValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly tensor: { dims: readonly number[]; data: Float32Array | BigInt64Array } };

type Dimension = number | string;

function tensorProto(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): ProtoWriter {
  const tensor = new ProtoWriter();
  for (const d of dims) tensor.int(1, d);
  tensor.int(2, data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  tensor.string(8, name);
  // raw_data is little-endian, which is what typed arrays hold on every platform Node runs on.
  tensor.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return tensor;
}

function valueInfo(name: string, elemType: number, dims: readonly Dimension[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, elemType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, name).message(2, type);
}

function attribute(name: string, value: AttributeValue): ProtoWriter {
  const a = new ProtoWriter().string(1, name);
  if ('int' in value) a.int(3, value.int).int(20, 2);
  else if ('float' in value) a.float(2, value.float).int(20, 1);
  else if ('ints' in value) {
    for (const i of value.ints) a.int(8, i);
    a.int(20, 7);
  } else a.message(5, tensorProto('', value.tensor.dims, value.tensor.data)).int(20, 4);
  return a;
}

/** Accumulates nodes, initializers, inputs and outputs; names intermediate values uniquely. */
export class GraphBuilder {
  private readonly nodes: ProtoWriter[] = [];
  private readonly initializers: ProtoWriter[] = [];
  private readonly inputs: ProtoWriter[] = [];
  private readonly outputs: ProtoWriter[] = [];
  private counter = 0;

  input(name: string, elemType: number, dims: readonly Dimension[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number, dims: readonly Dimension[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  initializer(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    this.initializers.push(tensorProto(name, dims, data));
    return name;
  }

  /** Adds a node with one output; returns the output's name (`outputName` or a generated one). */
  op(opType: string, inputs: readonly string[], attributes: Readonly<Record<string, AttributeValue>> = {}, outputName?: string): string {
    const output = outputName ?? `${opType.toLowerCase()}_${this.counter++}`;
    const node = new ProtoWriter();
    for (const i of inputs) node.string(1, i);
    node.string(2, output);
    node.string(3, `${output}_node`);
    node.string(4, opType);
    for (const [name, value] of Object.entries(attributes)) node.message(5, attribute(name, value));
    this.nodes.push(node);
    return output;
  }

  /** A scalar or small constant as an initializer with a generated name. */
  constant(values: readonly number[], dims: readonly number[], type: 'float' | 'int64' = 'float'): string {
    const data = type === 'float' ? Float32Array.from(values) : BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.initializer(`const_${this.counter++}`, dims, data);
  }

  toModel(opsetVersion: number, producer: string): Uint8Array {
    const graph = new ProtoWriter();
    for (const n of this.nodes) graph.message(1, n);
    graph.string(2, 'main');
    for (const t of this.initializers) graph.message(5, t);
    for (const i of this.inputs) graph.message(11, i);
    for (const o of this.outputs) graph.message(12, o);
    const opset = new ProtoWriter().string(1, '').int(2, opsetVersion);
    return new ProtoWriter().int(1, 8).string(2, producer).string(3, '1').message(7, graph).message(8, opset).finish();
  }
}
