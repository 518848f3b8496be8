import { initGpu } from "../../../src/gpu/mod.ts";
import { loadModelConfig, SAM2Base } from "../../../src/sam2/mod.ts";
import { assertEquals } from "../../assert.ts";
import { MINI } from "../_mini.ts";

// Building a model allocates and initialises its parameters on the device: large (224M
// parameters) takes about a minute on lavapipe, which is the price of checking the real tree.
for (
  const [size, entries, params] of [
    ["t", 471, 38_962_498],
    ["s", 519, 46_060_354],
    ["b+", 615, 80_850_178],
    ["l", 903, 224_446_642],
  ] as const
) {
  Deno.test(`SAM2Base(sam2.1_hiera_${size}) state_dict keys, shapes and order equal the reference's`, async () => {
    await initGpu();
    const cfg = await loadModelConfig(
      new URL(`../../../configs/sam2.1/sam2.1_hiera_${size}.yaml`, import.meta.url),
    );
    const ref = JSON.parse(
      await Deno.readTextFile(new URL(`keys/sam2.1_hiera_${size}.json`, MINI)),
    ) as { keys: [string, number[], number][]; total_parameters: number };
    const m = new SAM2Base(cfg.model);
    try {
      const ours = [...m.stateDict()].map(([k, t]) => `${k} [${t.shape}]`);
      const theirs = ref.keys.map(([k, s]) => `${k} [${s}]`);
      assertEquals(ours.filter((k) => !theirs.includes(k)), [], "keys we have and they do not");
      assertEquals(theirs.filter((k) => !ours.includes(k)), [], "keys they have and we do not");
      assertEquals(ours, theirs, "order");
      assertEquals(ours.length, entries);
      assertEquals(m.numParameters(), params);
      assertEquals(ref.total_parameters, params);
    } finally {
      m.dispose();
    }
  });
}
