import { type StateDict, toFloat32, typedView } from "../../../src/checkpoint/mod.ts";
import { initGpu } from "../../../src/gpu/mod.ts";
import { MaskDecoder, PromptEncoder, TwoWayTransformer } from "../../../src/sam2/sam/mod.ts";
import { type Tensor, tensor } from "../../../src/tensor/mod.ts";
import { compareWithFixture, miniFixture, miniWeights, withPrefix } from "../_mini.ts";

function fx(ref: StateDict, key: string): Tensor {
  const t = ref.get(key);
  if (!t) throw new Error(`fixture tensor ${key} missing`);
  return tensor(toFloat32(t), t.shape);
}

async function miniHeads() {
  await initGpu();
  const sd = await miniWeights();
  const pe = new PromptEncoder({
    embedDim: 64,
    imageEmbeddingSize: [8, 8],
    inputImageSize: [128, 128],
    maskInChans: 16,
  });
  pe.loadStateDict(withPrefix(sd, "sam_prompt_encoder"));
  const dec = new MaskDecoder(new TwoWayTransformer(2, 64, 8, 2048), {
    transformerDim: 64,
    useHighResFeatures: true,
    iouPredictionUseSigmoid: true,
    predObjScores: true,
    predObjScoresMlp: true,
    useMultimaskTokenForObjPtr: true,
  });
  dec.loadStateDict(withPrefix(sd, "sam_mask_decoder"));
  pe.eval();
  dec.eval();
  return { pe, dec };
}

const CALLS = [
  { name: "points", multimask: true, mask: false },
  { name: "box", multimask: false, mask: false },
  { name: "point_and_mask", multimask: false, mask: true },
];

Deno.test("PromptEncoder and MaskDecoder match the PyTorch reference on sam2-mini (points, box, point + mask)", async () => {
  const { pe, dec } = await miniHeads();
  const ref = await miniFixture("sam_heads.safetensors");
  const report: string[] = [];
  const check = async (name: string, t: Tensor) =>
    report.push(`${name}: ${(await compareWithFixture(name, t, ref, name)).toExponential(2)}`);

  await check("image_pe", pe.getDensePe());
  for (const call of CALLS) {
    const labels = typedView(ref.get(`${call.name}.in.point_labels`)!) as Int32Array;
    const { sparse, dense } = pe.forward(
      { coords: fx(ref, `${call.name}.in.point_coords`), labels: Int32Array.from(labels) },
      call.mask ? fx(ref, `${call.name}.in.mask_inputs`) : null,
      1,
    );
    await check(`${call.name}.prompt.sparse_embeddings`, sparse);
    await check(`${call.name}.prompt.dense_embeddings`, dense);
    const out = dec.forward({
      imageEmbeddings: fx(ref, "pix_feat_with_mem"),
      imagePe: pe.getDensePe(),
      sparsePromptEmbeddings: sparse,
      densePromptEmbeddings: dense,
      multimaskOutput: call.multimask,
      repeatImage: false,
      highResFeatures: [fx(ref, "high_res_features.0"), fx(ref, "high_res_features.1")],
    });
    await check(`${call.name}.decoder.masks`, out.masks);
    await check(`${call.name}.decoder.iou_pred`, out.iouPred);
    await check(`${call.name}.decoder.sam_tokens_out`, out.samTokensOut);
    await check(`${call.name}.decoder.object_score_logits`, out.objectScoreLogits);
  }
  console.log(report.join("\n"));
});
