/**
 * Method-style access to the ops (`x.matmul(w).add(b).relu()`), added to `Tensor.prototype`
 * here so that tensor.ts does not import the op files (they import it).
 */
import { backward, type BackwardOptions } from "./autograd.ts";
import { full } from "./create.ts";
import * as bin from "./ops/binary.ts";
import * as cmp from "./ops/compare.ts";
import * as lay from "./ops/layout.ts";
import * as mm from "./ops/matmul.ts";
import * as red from "./ops/reduce.ts";
import * as un from "./ops/unary.ts";
import type { TensorLike } from "./ops/_template.ts";
import { Tensor } from "./tensor.ts";

declare module "./tensor.ts" {
  interface Tensor {
    /** See `add`. */ add(b: TensorLike): Tensor;
    /** See `sub`. */ sub(b: TensorLike): Tensor;
    /** See `mul`. */ mul(b: TensorLike): Tensor;
    /** See `div`. */ div(b: TensorLike): Tensor;
    /** See `pow`. */ pow(b: TensorLike): Tensor;
    /** See `maximum`. */ maximum(b: TensorLike): Tensor;
    /** See `minimum`. */ minimum(b: TensorLike): Tensor;
    /** See `neg`. */ neg(): Tensor;
    /** See `abs`. */ abs(): Tensor;
    /** See `sqrt`. */ sqrt(): Tensor;
    /** See `rsqrt`. */ rsqrt(): Tensor;
    /** See `exp`. */ exp(): Tensor;
    /** See `log`. */ log(): Tensor;
    /** See `square`. */ square(): Tensor;
    /** See `relu`. */ relu(): Tensor;
    /** See `gelu`. */ gelu(): Tensor;
    /** See `sigmoid`. */ sigmoid(): Tensor;
    /** See `tanh`. */ tanh(): Tensor;
    /** See `clamp`. */ clamp(opts: un.ClampOptions): Tensor;
    /** See `eq`. */ eq(b: TensorLike): Tensor;
    /** See `lt`. */ lt(b: TensorLike): Tensor;
    /** See `gt`. */ gt(b: TensorLike): Tensor;
    /** See `sum`. */ sum(axes?: red.Axes, opts?: red.ReduceOptions): Tensor;
    /** See `mean`. */ mean(axes?: red.Axes, opts?: red.ReduceOptions): Tensor;
    /** See `max`. */ max(axes?: red.Axes, opts?: red.ReduceOptions): Tensor;
    /** See `argmax`. */ argmax(axis?: number, opts?: red.ReduceOptions): Tensor;
    /** See `matmul`. */ matmul(b: Tensor): Tensor;
    /** See `reshape`. */ reshape(shape: readonly number[]): Tensor;
    /** See `permute`. */ permute(dims: readonly number[]): Tensor;
    /** See `transpose`. */ transpose(d0?: number, d1?: number): Tensor;
    /** See `expand`. */ expand(shape: readonly number[]): Tensor;
    /** See `unsqueeze`. */ unsqueeze(axis: number): Tensor;
    /** See `squeeze`. */ squeeze(axes?: readonly number[]): Tensor;
    /** See `flatten`. */ flatten(start?: number, end?: number): Tensor;
    /** See `contiguous`. */ contiguous(): Tensor;
    /** See `clone`. */ clone(): Tensor;
    /** A tensor of the same shape and dtype filled with 1. */ onesLike(): Tensor;
    /** A tensor of the same shape and dtype filled with 0. */ zerosLike(): Tensor;
    /**
     * The same data cut from the tape (`requiresGrad` false); shares storage.
     */
    detach(): Tensor;
    /** Back-propagates from this tensor (see `backward`). */
    backward(opts?: BackwardOptions): void;
  }
}

const P = Tensor.prototype;
P.add = function (b) {
  return bin.add(this, b);
};
P.sub = function (b) {
  return bin.sub(this, b);
};
P.mul = function (b) {
  return bin.mul(this, b);
};
P.div = function (b) {
  return bin.div(this, b);
};
P.pow = function (b) {
  return bin.pow(this, b);
};
P.maximum = function (b) {
  return bin.maximum(this, b);
};
P.minimum = function (b) {
  return bin.minimum(this, b);
};
P.neg = function () {
  return un.neg(this);
};
P.abs = function () {
  return un.abs(this);
};
P.sqrt = function () {
  return un.sqrt(this);
};
P.rsqrt = function () {
  return un.rsqrt(this);
};
P.exp = function () {
  return un.exp(this);
};
P.log = function () {
  return un.log(this);
};
P.square = function () {
  return un.square(this);
};
P.relu = function () {
  return un.relu(this);
};
P.gelu = function () {
  return un.gelu(this);
};
P.sigmoid = function () {
  return un.sigmoid(this);
};
P.tanh = function () {
  return un.tanh(this);
};
P.clamp = function (o) {
  return un.clamp(this, o);
};
P.eq = function (b) {
  return cmp.eq(this, b);
};
P.lt = function (b) {
  return cmp.lt(this, b);
};
P.gt = function (b) {
  return cmp.gt(this, b);
};
P.sum = function (a, o) {
  return red.sum(this, a, o);
};
P.mean = function (a, o) {
  return red.mean(this, a, o);
};
P.max = function (a, o) {
  return red.max(this, a, o);
};
P.argmax = function (a, o) {
  return red.argmax(this, a, o);
};
P.matmul = function (b) {
  return mm.matmul(this, b);
};
P.reshape = function (s) {
  return lay.reshape(this, s);
};
P.permute = function (d) {
  return lay.permute(this, d);
};
P.transpose = function (a, b) {
  return lay.transpose(this, a, b);
};
P.expand = function (s) {
  return lay.expand(this, s);
};
P.unsqueeze = function (a) {
  return lay.unsqueeze(this, a);
};
P.squeeze = function (a) {
  return lay.squeeze(this, a);
};
P.flatten = function (s, e) {
  return lay.flatten(this, s, e);
};
P.contiguous = function () {
  return lay.contiguous(this);
};
P.clone = function () {
  return lay.clone(this);
};
P.onesLike = function () {
  return full(this.shape, 1, { dtype: this.dtype });
};
P.zerosLike = function () {
  return full(this.shape, 0, { dtype: this.dtype });
};
P.detach = function () {
  return this.alias();
};
P.backward = function (o) {
  backward(this, o);
};
