import { assert, assertEquals, assertRejects, assertStringIncludes } from "../assert.ts";
import { gpu, GpuBufferPool, GpuError, initGpu } from "../../src/gpu/mod.ts";

const rt = await initGpu();

Deno.test("initGpu() returns one runtime per process with the adapter's limits", async () => {
  assert((await initGpu()) === rt);
  assert(gpu() === rt);
  assert(rt.maxBinding >= 128 * 1024 * 1024);
  assert(rt.adapterName.length > 0);
});

Deno.test("GpuBufferPool reuses size classes and tracks live and peak bytes", () => {
  assertEquals(GpuBufferPool.sizeClass(1), 256);
  assertEquals(GpuBufferPool.sizeClass(1000), 1024);
  assertEquals(GpuBufferPool.sizeClass((1 << 20) + 1), (1 << 20) + (1 << 18));
  const pool = new GpuBufferPool(rt.device);
  const a = pool.acquire(1000);
  const s1 = pool.stats();
  assertEquals(s1.liveBytes, 1024);
  pool.release(a);
  const b = pool.acquire(900);
  assert(a === b, "same size class is reused");
  assertEquals(pool.stats().allocations, 1);
  assertEquals(pool.stats().peakBytes, 1024);
  pool.release(b);
  pool.trim();
  assertEquals(pool.stats().heldBytes, 0);
});

Deno.test("launch() errors name the kernel label", async () => {
  const k = {
    label: "broken_kernel[test]",
    code: "@group(0) @binding(0) var<storage, read_write> o: array<f32>;\n" +
      "@compute @workgroup_size(1) fn main() { o[0] = undefined_symbol; }",
    bindings: ["write"] as const,
    workgroupSize: [1, 1, 1] as const,
  };
  const buf = rt.pool.acquire(16);
  try {
    rt.launch(k, { buffers: [buf], workgroups: [1] });
  } catch (e) {
    assertStringIncludes(String(e), "broken_kernel");
    return;
  } finally {
    rt.pool.release(buf);
  }
  const err = await assertRejects(() => rt.sync(), GpuError);
  assertStringIncludes(err.message, "broken_kernel[test]");
});

Deno.test("read() returns written data in submission order", async () => {
  const buf = rt.pool.acquire(16);
  rt.write(buf, 0, new Float32Array([1, 2, 3, 4]));
  const back = new Float32Array(await rt.read(buf, 4, 8));
  assertEquals(Array.from(back), [2, 3]);
  rt.pool.release(buf);
});

Deno.test("profile() reports time per kernel label", async () => {
  const { tensor, add, tidy } = await import("../../src/tensor/mod.ts");
  const x = tensor([1, 2, 3], [3]);
  const report = await rt.profile(() => {
    tidy(() => add(add(x, 1), x));
  });
  const labels = report.map((r) => r.label);
  assert(labels.some((l) => l.startsWith("elementwise[add")), labels.join(", "));
  assert(report.every((r) => r.count >= 1 && r.totalMs >= 0));
  x.dispose();
});
