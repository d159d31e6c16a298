#!/usr/bin/python3
"""Exports the perfgraph reference model corpus to weight-stripped ONNX files.

Every model is built with random initialisation (weights=None, no network
access), exported at a fixed input shape (batch 1 unless the name ends in
_b<N>), and then stripped of its weights: each tensor with more than
kMaxInlineElements elements (initializers and Constant-node attributes) is
marked as external data in "<name>.weights", and that data file is deleted.
The committed .onnx therefore keeps the graph structure, every tensor's dims
and dtype, and only small constants (reshape targets, axes, pads, small
biases...), which is all the importer needs.

After saving, each file is re-loaded (without external data) and checked with
onnx.checker.check_model and onnx.shape_inference.infer_shapes (strict mode);
the op-type histogram is printed.

Run with Debian's interpreter (torch 1.13, torchvision 0.14, onnx 1.12):

    /usr/bin/python3 data/corpus/export_torchvision.py [--out-dir DIR]
        [--only NAME ...] [--force] [--list]

Existing outputs are not re-exported unless --force is given (they are still
verified). The exit status is non-zero if any requested model failed.
"""

import argparse
import collections
import dataclasses
import gc
import io
import os
import shutil
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import onnx
import onnx.checker
import onnx.external_data_helper
import onnx.numpy_helper
import onnx.shape_inference
import torch
import torchvision

# Tensors with more elements than this are moved to (deleted) external data.
kMaxInlineElements = 64
# Files whose stripped graph is still larger than this (huge node counts, e.g.
# swin_t's traced attention-mask arithmetic) get short intermediate value names.
kMaxFileBytes = 512 * 1024
kSeed = 0
kInputName = "input"
kOutputName = "output"


@dataclasses.dataclass
class Spec:
    """One corpus entry.

    name: file stem of the output ("<name>.onnx").
    build: returns the torch.nn.Module (random init, eval mode set later).
    input_shape: static shape of the single float32 input.
    opset: ONNX opset passed to torch.onnx.export.
    dynamic_batch: if True, axis 0 of input and output is exported as the
      symbolic dim "batch" (exercises the importer's --input-shape path).
    grad_enabled: export with autograd enabled. Needed for models built on
      nn.MultiheadAttention / nn.TransformerEncoderLayer: in torch 1.13 their
      eval-mode, no-grad "fast path" calls fused native kernels
      (_native_multi_head_attention, _transformer_encoder_layer_fwd) that the
      ONNX exporter cannot translate. With grad enabled the module takes the
      ordinary decomposed path; the exported graph is inference-only anyway.
    description: one-line architecture summary for the README.
    """
    name: str
    build: Callable[[], torch.nn.Module]
    input_shape: Tuple[int, ...]
    opset: int
    dynamic_batch: bool = False
    grad_enabled: bool = False
    description: str = ""


class SegmentationOutput(torch.nn.Module):
    """Wraps a torchvision segmentation model, returning only out['out']."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def _tv(fn_name: str, **kwargs) -> Callable[[], torch.nn.Module]:
    """Builder for torchvision.models.<fn_name>(weights=None, **kwargs)."""
    def build() -> torch.nn.Module:
        return getattr(torchvision.models, fn_name)(weights=None, **kwargs)
    return build


def _seg(fn_name: str) -> Callable[[], torch.nn.Module]:
    """Builder for a torchvision segmentation model without any weights."""
    def build() -> torch.nn.Module:
        fn = getattr(torchvision.models.segmentation, fn_name)
        return SegmentationOutput(
            fn(weights=None, weights_backbone=None, aux_loss=False))
    return build


def _encoder(d_model: int, nhead: int, layers: int) -> Callable[[], torch.nn.Module]:
    """Builder for a post-LN torch.nn.TransformerEncoder (batch_first)."""
    def build() -> torch.nn.Module:
        layer = torch.nn.TransformerEncoderLayer(
            d_model=d_model, nhead=nhead, dim_feedforward=4 * d_model,
            dropout=0.1, batch_first=True)
        return torch.nn.TransformerEncoder(layer, num_layers=layers)
    return build


def _image(resolution: int, batch: int = 1) -> Tuple[int, int, int, int]:
    return (batch, 3, resolution, resolution)


kImage224 = _image(224)
kImage299 = _image(299)
kImage520 = _image(520)
kImage160 = _image(160)

# Opsets are varied on purpose so the importer sees forms that changed between
# opsets: 9 (Pad/Clip parameters as attributes), 11/12 (Pad pads, Clip min/max
# and Resize scales/sizes as inputs; Squeeze/Unsqueeze axes still attributes),
# 13 (Squeeze/Unsqueeze/ReduceSum axes as inputs, Softmax over one axis), 14
# (HardSwish op, Reshape allowzero), 17 (LayerNormalization op).
kSpecs: List[Spec] = [
    Spec("alexnet", _tv("alexnet"), kImage224, 9,
         description="AlexNet (5 conv + 3 FC)"),
    Spec("vgg11", _tv("vgg11"), kImage224, 9,
         description="VGG-11 without BN"),
    Spec("squeezenet1_1", _tv("squeezenet1_1"), kImage224, 11,
         description="SqueezeNet 1.1 (fire modules, concat)"),
    Spec("googlenet", _tv("googlenet", aux_logits=False, init_weights=False),
         kImage224, 11, description="GoogLeNet / Inception v1, no aux heads"),
    Spec("inception_v3", _tv("inception_v3", aux_logits=False,
                             init_weights=False),
         kImage299, 11, description="Inception v3, no aux head"),
    Spec("resnet18", _tv("resnet18"), kImage224, 13, dynamic_batch=True,
         description="ResNet-18 (basic blocks)"),
    Spec("resnet50", _tv("resnet50"), kImage224, 13,
         description="ResNet-50 (bottleneck blocks)"),
    Spec("resnext50_32x4d", _tv("resnext50_32x4d"), kImage224, 13,
         description="ResNeXt-50 32x4d (grouped 3x3 conv)"),
    Spec("wide_resnet50_2", _tv("wide_resnet50_2"), kImage224, 13,
         description="Wide ResNet-50-2"),
    Spec("densenet121", _tv("densenet121"), kImage224, 13,
         description="DenseNet-121 (dense concat blocks)"),
    Spec("mobilenet_v2", _tv("mobilenet_v2"), kImage224, 12,
         description="MobileNet v2 (depthwise, ReLU6 = Clip)"),
    Spec("mobilenet_v3_small", _tv("mobilenet_v3_small"), kImage224, 14,
         description="MobileNet v3 small (HardSwish op, SE blocks)"),
    Spec("mobilenet_v3_large", _tv("mobilenet_v3_large"), kImage224, 13,
         description="MobileNet v3 large (hardswish decomposed, SE blocks)"),
    Spec("efficientnet_b0", _tv("efficientnet_b0"), kImage224, 13,
         description="EfficientNet-B0 (MBConv, SiLU, SE)"),
    Spec("regnet_y_400mf", _tv("regnet_y_400mf"), kImage224, 13,
         description="RegNetY-400MF (grouped conv, SE)"),
    Spec("shufflenet_v2_x1_0", _tv("shufflenet_v2_x1_0"), kImage224, 13,
         description="ShuffleNet v2 1.0x (channel shuffle: reshape/transpose)"),
    Spec("mnasnet1_0", _tv("mnasnet1_0"), kImage224, 13,
         description="MnasNet 1.0"),
    Spec("convnext_tiny", _tv("convnext_tiny"), kImage224, 17,
         description="ConvNeXt-T (7x7 depthwise, LayerNorm, GELU)"),
    Spec("vit_b_16", _tv("vit_b_16"), kImage224, 14, grad_enabled=True,
         description="ViT-B/16 (12 encoder layers, MHA)"),
    Spec("swin_t", _tv("swin_t"), kImage224, 17,
         description="Swin-T (shifted-window attention, roll, pad)"),
    Spec("fcn_resnet50", _seg("fcn_resnet50"), kImage520, 13,
         description="FCN ResNet-50 (dilated backbone, bilinear resize)"),
    Spec("deeplabv3_resnet50", _seg("deeplabv3_resnet50"), kImage520, 11,
         description="DeepLabV3 ResNet-50 (ASPP, bilinear resize)"),
    Spec("transformer_encoder_d256_l2", _encoder(256, 4, 2), (1, 128, 256),
         14, dynamic_batch=True, grad_enabled=True,
         description="nn.TransformerEncoder d_model=256 nhead=4 layers=2 "
                     "ffn=1024, seq 128"),
    Spec("transformer_encoder_d512_l4", _encoder(512, 8, 4), (1, 128, 512),
         17, grad_enabled=True,
         description="nn.TransformerEncoder d_model=512 nhead=8 layers=4 "
                     "ffn=2048, seq 128"),
]

# Corpus v2, part 1: a second input shape for every architecture above (and a
# third, batch 4, for three small ones), with the same builder and opset as the
# original, so only dims change. All are fully static (so the static variants
# of the dynamic-batch transformer_encoder_d256_l2 lack its run-time shape
# arithmetic). Names: <arch>_r<resolution>, <arch>_b<batch>,
# transformer_encoder_d<D>_l<L>_s<seq>; the encoders also get other d_model
# points (head dim 64, same layer count and opset as d256_l2 / d512_l4).
# CNNs with a global pool go to resolution 160. alexnet and vgg11 end in
# AdaptiveAvgPool2d to (6,6) / (7,7), which the exporter can only express when
# the feature map is a multiple of that (224, 448, ...), so they get a bigger
# batch instead. vit_b_16 (and vit_b_32 below) is rebuilt with image_size=160
# (position embedding for 10x10+1 tokens). inception_v3 (native 299) goes down
# to 224 and the segmentation models (native 520) to 160: their dilated
# backbone keeps a 1/8-resolution feature map, so the FCN head's 3x3 conv
# (2048 -> 512) alone is 7.5 GFLOP at 160 (14.8 at 224, 80 at 520).
kSpecs += [
    Spec("alexnet_b4", _tv("alexnet"), _image(224, 4), 9,
         description="AlexNet, batch 4"),
    Spec("vgg11_b2", _tv("vgg11"), _image(224, 2), 9,
         description="VGG-11 without BN, batch 2"),
    Spec("squeezenet1_1_r160", _tv("squeezenet1_1"), kImage160, 11,
         description="SqueezeNet 1.1 at 160x160"),
    Spec("googlenet_r160", _tv("googlenet", aux_logits=False,
                               init_weights=False),
         kImage160, 11, description="GoogLeNet at 160x160"),
    Spec("inception_v3_r224", _tv("inception_v3", aux_logits=False,
                                  init_weights=False),
         kImage224, 11, description="Inception v3 at 224x224"),
    Spec("resnet18_r160", _tv("resnet18"), kImage160, 13,
         description="ResNet-18 at 160x160 (static batch 1)"),
    Spec("resnet50_r160", _tv("resnet50"), kImage160, 13,
         description="ResNet-50 at 160x160"),
    Spec("resnext50_32x4d_r160", _tv("resnext50_32x4d"), kImage160, 13,
         description="ResNeXt-50 32x4d at 160x160"),
    Spec("wide_resnet50_2_r160", _tv("wide_resnet50_2"), kImage160, 13,
         description="Wide ResNet-50-2 at 160x160"),
    Spec("densenet121_r160", _tv("densenet121"), kImage160, 13,
         description="DenseNet-121 at 160x160"),
    Spec("mobilenet_v2_r160", _tv("mobilenet_v2"), kImage160, 12,
         description="MobileNet v2 at 160x160"),
    Spec("mobilenet_v3_small_r160", _tv("mobilenet_v3_small"), kImage160, 14,
         description="MobileNet v3 small at 160x160"),
    Spec("mobilenet_v2_b4", _tv("mobilenet_v2"), _image(224, 4), 12,
         description="MobileNet v2, batch 4"),
    Spec("mobilenet_v3_small_b4", _tv("mobilenet_v3_small"), _image(224, 4), 14,
         description="MobileNet v3 small, batch 4"),
    Spec("mobilenet_v3_large_r160", _tv("mobilenet_v3_large"), kImage160, 13,
         description="MobileNet v3 large at 160x160"),
    Spec("efficientnet_b0_r160", _tv("efficientnet_b0"), kImage160, 13,
         description="EfficientNet-B0 at 160x160"),
    Spec("regnet_y_400mf_r160", _tv("regnet_y_400mf"), kImage160, 13,
         description="RegNetY-400MF at 160x160"),
    Spec("regnet_y_400mf_b4", _tv("regnet_y_400mf"), _image(224, 4), 13,
         description="RegNetY-400MF, batch 4"),
    Spec("shufflenet_v2_x1_0_r160", _tv("shufflenet_v2_x1_0"), kImage160, 13,
         description="ShuffleNet v2 1.0x at 160x160"),
    Spec("mnasnet1_0_r160", _tv("mnasnet1_0"), kImage160, 13,
         description="MnasNet 1.0 at 160x160"),
    Spec("convnext_tiny_r160", _tv("convnext_tiny"), kImage160, 17,
         description="ConvNeXt-T at 160x160"),
    Spec("vit_b_16_r160", _tv("vit_b_16", image_size=160), kImage160, 14,
         grad_enabled=True,
         description="ViT-B/16 built for 160x160 "
                     "(10x10 patches + class token)"),
    Spec("swin_t_r160", _tv("swin_t"), kImage160, 17,
         description="Swin-T at 160x160 (40, 20, 10, 5 patches per side, "
                     "padded to the 7x7 window)"),
    Spec("fcn_resnet50_r160", _seg("fcn_resnet50"), kImage160, 13,
         description="FCN ResNet-50 at 160x160"),
    Spec("deeplabv3_resnet50_r160", _seg("deeplabv3_resnet50"), kImage160, 11,
         description="DeepLabV3 ResNet-50 at 160x160"),
    Spec("transformer_encoder_d256_l2_s256", _encoder(256, 4, 2),
         (1, 256, 256), 14, grad_enabled=True,
         description="nn.TransformerEncoder d_model=256 nhead=4 layers=2 "
                     "ffn=1024, seq 256"),
    Spec("transformer_encoder_d128_l2_s64", _encoder(128, 2, 2),
         (1, 64, 128), 14, grad_enabled=True,
         description="nn.TransformerEncoder d_model=128 nhead=2 layers=2 "
                     "ffn=512, seq 64"),
    Spec("transformer_encoder_d512_l4_s64", _encoder(512, 8, 4),
         (1, 64, 512), 17, grad_enabled=True,
         description="nn.TransformerEncoder d_model=512 nhead=8 layers=4 "
                     "ffn=2048, seq 64"),
    Spec("transformer_encoder_d768_l4_s128", _encoder(768, 12, 4),
         (1, 128, 768), 17, grad_enabled=True,
         description="nn.TransformerEncoder d_model=768 nhead=12 layers=4 "
                     "ffn=3072, seq 128"),
]

# Corpus v2, part 2: torchvision architectures not used above, each at 224 and
# a second shape (resolution 160, or batch 4 for the smallest networks).
# maxvit_t's block/grid partitions (7x7) need every stage's feature map to be a
# multiple of 7, i.e. 224 (or 448), so its second shape is batch 2.
# Tried and left out (see README.md): swin_v2_t (the torch 1.13 exporter has
# no symbolic for aten::zero, from the in-place qkv_bias[...].zero_() that
# zeroes the key bias in torchvision's shifted_window_attention for V2);
# resnet34, densenet169 and lraspp_mobilenet_v3_large export and import fine
# but would go to the test part with the family whose kernels they share
# (resnet18, densenet121, mobilenet_v3_large), which is already at its share.
kSpecs += [
    Spec("resnet101", _tv("resnet101"), kImage224, 13,
         description="ResNet-101 (bottleneck blocks)"),
    Spec("resnet101_r160", _tv("resnet101"), kImage160, 13,
         description="ResNet-101 at 160x160"),
    Spec("regnet_x_400mf", _tv("regnet_x_400mf"), kImage224, 13,
         description="RegNetX-400MF (grouped conv, no SE)"),
    Spec("regnet_x_400mf_r160", _tv("regnet_x_400mf"), kImage160, 13,
         description="RegNetX-400MF at 160x160"),
    Spec("regnet_x_800mf", _tv("regnet_x_800mf"), kImage224, 13,
         description="RegNetX-800MF"),
    Spec("regnet_x_800mf_r160", _tv("regnet_x_800mf"), kImage160, 13,
         description="RegNetX-800MF at 160x160"),
    Spec("regnet_y_800mf", _tv("regnet_y_800mf"), kImage224, 13,
         description="RegNetY-800MF (grouped conv, SE)"),
    Spec("regnet_y_800mf_r160", _tv("regnet_y_800mf"), kImage160, 13,
         description="RegNetY-800MF at 160x160"),
    Spec("convnext_small", _tv("convnext_small"), kImage224, 17,
         description="ConvNeXt-S (27 blocks in stage 3)"),
    Spec("convnext_small_r160", _tv("convnext_small"), kImage160, 17,
         description="ConvNeXt-S at 160x160"),
    Spec("efficientnet_v2_s", _tv("efficientnet_v2_s"), kImage224, 13,
         description="EfficientNetV2-S (Fused-MBConv + MBConv, SiLU, SE)"),
    Spec("efficientnet_v2_s_r160", _tv("efficientnet_v2_s"), kImage160, 13,
         description="EfficientNetV2-S at 160x160"),
    Spec("shufflenet_v2_x0_5", _tv("shufflenet_v2_x0_5"), kImage224, 13,
         description="ShuffleNet v2 0.5x"),
    Spec("shufflenet_v2_x0_5_b4", _tv("shufflenet_v2_x0_5"), _image(224, 4),
         13, description="ShuffleNet v2 0.5x, batch 4"),
    Spec("mnasnet0_5", _tv("mnasnet0_5"), kImage224, 13,
         description="MnasNet 0.5"),
    Spec("mnasnet0_5_b4", _tv("mnasnet0_5"), _image(224, 4), 13,
         description="MnasNet 0.5, batch 4"),
    Spec("vit_b_32", _tv("vit_b_32"), kImage224, 14, grad_enabled=True,
         description="ViT-B/32 (7x7 patches + class token, 12 layers)"),
    Spec("vit_b_32_r160", _tv("vit_b_32", image_size=160), kImage160, 14,
         grad_enabled=True,
         description="ViT-B/32 built for 160x160 (5x5 patches + class token)"),
    Spec("squeezenet1_0", _tv("squeezenet1_0"), kImage224, 11,
         description="SqueezeNet 1.0 (fire modules, 7x7 stem)"),
    Spec("squeezenet1_0_r160", _tv("squeezenet1_0"), kImage160, 11,
         description="SqueezeNet 1.0 at 160x160"),
    Spec("maxvit_t", _tv("maxvit_t"), kImage224, 17,
         description="MaxViT-T (MBConv + block/grid attention)"),
    Spec("maxvit_t_b2", _tv("maxvit_t"), _image(224, 2), 17,
         description="MaxViT-T, batch 2"),
]


def _numel(tensor: onnx.TensorProto) -> int:
    n = 1
    for d in tensor.dims:
        n *= d
    return n


def _all_tensors(graph: onnx.GraphProto):
    """Yields initializers and tensor-valued attributes, recursing into subgraphs."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for g in attr.graphs:
                yield from _all_tensors(g)


def _has_inline_data(t: onnx.TensorProto) -> bool:
    return bool(t.raw_data or t.float_data or t.int32_data or t.int64_data or
                t.double_data or t.uint64_data or t.string_data)


def _export(spec: Spec) -> onnx.ModelProto:
    """Builds spec's model with a fixed seed and exports it to an in-memory proto."""
    torch.manual_seed(kSeed)
    model = spec.build().eval()
    x = torch.randn(*spec.input_shape)
    dynamic_axes = None
    if spec.dynamic_batch:
        dynamic_axes = {kInputName: {0: "batch"}, kOutputName: {0: "batch"}}
    buf = io.BytesIO()
    with torch.set_grad_enabled(spec.grad_enabled):
        torch.onnx.export(
            model, (x,), buf,
            export_params=True,
            opset_version=spec.opset,
            do_constant_folding=True,
            input_names=[kInputName],
            output_names=[kOutputName],
            dynamic_axes=dynamic_axes)
    del model
    return onnx.load_model_from_string(buf.getvalue())


def _shorten_value_names(model: onnx.ModelProto) -> int:
    """Renames intermediate values to "v<i>" (in node order); returns the count.

    The exporter names every intermediate value "<node name>_output_<i>", which
    repeats the (kept) scoped node name, so this loses no information. Graph
    inputs, outputs and initializers keep their names.
    """
    graph = model.graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g") or len(attr.graphs):
                raise RuntimeError("_shorten_value_names: subgraphs are not "
                                   f"supported (node {node.name})")
    keep = {v.name for v in graph.input} | {v.name for v in graph.output} | \
        {t.name for t in graph.initializer} | {""}
    renamed: Dict[str, str] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
        for i, name in enumerate(node.output):
            if name not in keep:
                renamed.setdefault(name, f"v{len(renamed)}")
                node.output[i] = renamed[name]
    for vi in graph.value_info:
        if vi.name in renamed:
            vi.name = renamed[vi.name]
    return len(renamed)


def _strip_and_save(model: onnx.ModelProto, path: str) -> None:
    """Moves large tensors to external data, saves to path, deletes the data."""
    stem = os.path.splitext(os.path.basename(path))[0]
    location = stem + ".weights"
    # convert_model_to_external_data compares sys.getsizeof(raw_data) (payload
    # plus the bytes-object header) with the threshold; anchor it so that a
    # float32 tensor of kMaxInlineElements elements stays inline.
    threshold = sys.getsizeof(b"\0" * (4 * kMaxInlineElements)) + 1
    # The exporter writes raw_data only; move any typed-field data there so the
    # helper sees it.
    for t in _all_tensors(model.graph):
        if not t.raw_data and _has_inline_data(t) and \
                _numel(t) > kMaxInlineElements:
            arr = onnx.numpy_helper.to_array(t)
            t.CopyFrom(onnx.numpy_helper.from_array(arr, t.name))
    onnx.external_data_helper.convert_model_to_external_data(
        model, all_tensors_to_one_file=True, location=location,
        size_threshold=threshold, convert_attribute=True)
    # Deterministic bytes: no stack traces or per-run doc strings.
    for node in model.graph.node:
        node.ClearField("doc_string")
    model.ClearField("doc_string")
    model.graph.ClearField("doc_string")
    tmp_path = path + ".tmp"
    onnx.save_model(model, tmp_path)  # also writes <dir>/<location>
    data_path = os.path.join(os.path.dirname(path), location)
    if os.path.exists(data_path):
        os.remove(data_path)
    os.replace(tmp_path, path)
    size = os.path.getsize(path)
    if size > kMaxFileBytes:
        stripped = onnx.load(path, load_external_data=False)
        n = _shorten_value_names(stripped)
        onnx.save_model(stripped, tmp_path)
        os.replace(tmp_path, path)
        print(f"  {size} bytes > {kMaxFileBytes}: renamed {n} intermediate values, "
              f"now {os.path.getsize(path)} bytes")


def _verify(path: str) -> Tuple[collections.Counter, onnx.ModelProto]:
    """Loads path without external data, checks it and runs shape inference.

    Returns the op-type histogram and the shape-inferred model. Raises on any
    failure (checker error, shape-inference error, big tensor left inline,
    missing output shape).
    """
    model = onnx.load(path, load_external_data=False)
    # The checker insists that every external-data location exists (it does not
    # read it). Check a copy next to an empty placeholder for the deleted file.
    locations = set()
    for t in _all_tensors(model.graph):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            locations.update(e.value for e in t.external_data if e.key == "location")
    with tempfile.TemporaryDirectory() as tmp_dir:
        shutil.copy(path, tmp_dir)
        for loc in locations:
            if os.path.isabs(loc) or os.sep in loc or loc.startswith("."):
                raise RuntimeError(f"{path}: unexpected external data location {loc!r}")
            open(os.path.join(tmp_dir, loc), "wb").close()
        onnx.checker.check_model(os.path.join(tmp_dir, os.path.basename(path)))
    big_inline = [t.name for t in _all_tensors(model.graph)
                  if _numel(t) > kMaxInlineElements and _has_inline_data(t)]
    if big_inline:
        raise RuntimeError(f"{path}: tensors with >{kMaxInlineElements} "
                           f"elements still inline: {big_inline[:5]}")
    inferred = onnx.shape_inference.infer_shapes(
        model, check_type=True, strict_mode=True, data_prop=True)
    for out in inferred.graph.output:
        if not out.type.tensor_type.HasField("shape"):
            raise RuntimeError(f"{path}: output {out.name} has no shape")
    hist = collections.Counter(n.op_type for n in inferred.graph.node)
    return hist, inferred


def _shape_str(vi: onnx.ValueInfoProto) -> str:
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        dims.append(d.dim_param if d.HasField("dim_param") else str(d.dim_value))
    return "[" + ",".join(dims) + "]"


def _report(spec: Spec, path: str, hist: collections.Counter,
            model: onnx.ModelProto) -> None:
    size_kb = os.path.getsize(path) / 1024.0
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                default=-1)
    n_init = len(model.graph.initializer)
    ins = " ".join(f"{i.name}{_shape_str(i)}" for i in model.graph.input)
    outs = " ".join(f"{o.name}{_shape_str(o)}" for o in model.graph.output)
    # Values whose shape ONNX shape inference (with data propagation) cannot
    # determine as fully static, ignoring the exported symbolic batch dim.
    values = {vi.name: vi for vi in model.graph.value_info}
    values.update((vi.name, vi) for vi in model.graph.output)
    produced = [o for n in model.graph.node for o in n.output if o]
    unresolved = 0
    for name in produced:
        vi = values.get(name)
        if vi is None or not vi.type.tensor_type.HasField("shape") or any(
                not d.HasField("dim_value") and d.dim_param != "batch"
                for d in vi.type.tensor_type.shape.dim):
            unresolved += 1
    print(f"  file={os.path.basename(path)} size={size_kb:.1f}KiB opset={opset} "
          f"nodes={sum(hist.values())} initializers={n_init} in={ins} out={outs} "
          f"values_without_static_shape={unresolved}/{len(produced)}")
    print("  ops: " + ", ".join(f"{op}:{c}" for op, c in
                                sorted(hist.items(), key=lambda kv: (-kv[1], kv[0]))))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)),
                        help="output directory (default: this script's directory)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="export only these models (see --list)")
    parser.add_argument("--force", action="store_true",
                        help="re-export models whose .onnx already exists")
    parser.add_argument("--list", action="store_true",
                        help="print the model names and exit")
    args = parser.parse_args(argv)

    by_name: Dict[str, Spec] = {s.name: s for s in kSpecs}
    if args.list:
        for s in kSpecs:
            print(f"{s.name}\t{list(s.input_shape)}\topset {s.opset}\t{s.description}")
        return 0
    specs = kSpecs
    if args.only:
        unknown = [n for n in args.only if n not in by_name]
        if unknown:
            parser.error(f"--only: unknown model(s) {unknown}; known: {sorted(by_name)}")
        specs = [by_name[n] for n in args.only]

    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    failed: List[Tuple[str, str]] = []
    for i, spec in enumerate(specs, 1):
        path = os.path.join(args.out_dir, spec.name + ".onnx")
        print(f"[{i}/{len(specs)}] {spec.name} opset={spec.opset} "
              f"input={list(spec.input_shape)}", flush=True)
        start = time.monotonic()
        try:
            if os.path.exists(path) and not args.force:
                print("  exists, skipping export (use --force to redo)")
            else:
                model = _export(spec)
                _strip_and_save(model, path)
                del model
                gc.collect()
            hist, inferred = _verify(path)
            _report(spec, path, hist, inferred)
            print(f"  ok in {time.monotonic() - start:.1f}s", flush=True)
        except Exception as e:  # report and continue with the next model
            msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            print(f"  FAILED: {msg}", flush=True)
            failed.append((spec.name, msg))
            for leftover in (path + ".tmp",
                             os.path.join(args.out_dir, spec.name + ".weights")):
                if os.path.exists(leftover):
                    os.remove(leftover)
    if failed:
        print(f"{len(failed)} model(s) failed:")
        for name, msg in failed:
            print(f"  {name}: {msg}")
        return 1
    print(f"all {len(specs)} model(s) ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
