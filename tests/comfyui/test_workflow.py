"""The shipped example workflow (ComfyUI's page format: nodes with input slots and widget values, and links)
fits the nodes: every link joins an output to an input of the same type, every required connection is made, and
every widget value is one the node accepts. Our nodes are checked against their own INPUT_TYPES; ComfyUI's core
nodes against their inputs as declared in ComfyUI's source (nodes.py, comfy_extras/nodes_custom_sampler.py,
nodes_hunyuan.py, nodes_model_advanced.py)."""

import json
from pathlib import Path

import pytest

from tests.comfyui.harness import Link, declared_inputs, is_widget, validate
from wan_alpha.comfyui import NODE_CLASS_MAPPINGS

WORKFLOW = Path(__file__).resolve().parents[2] / "src/wan_alpha/comfyui/example_workflows/wan_alpha_t2v.json"
"""``example_workflows/*.json`` of a custom-node folder: what ComfyUI's template browser lists
(``app/custom_node_manager.py``), so a symlinked install shows it there."""
SEED = "control_after_generate"
"""The page stores a seed widget's 'fixed' / 'randomize' choice as one more widget value."""
CORE = {
    # type: (connection inputs, widgets in page order, output types)
    "UNETLoader": ({}, ["unet_name", "weight_dtype"], ["MODEL"]),
    "CLIPLoader": ({}, ["clip_name", "type", "device"], ["CLIP"]),
    "LoraLoaderModelOnly": ({"model": "MODEL"}, ["lora_name", "strength_model"], ["MODEL"]),
    "ModelSamplingSD3": ({"model": "MODEL"}, ["shift"], ["MODEL"]),
    "CLIPTextEncode": ({"clip": "CLIP"}, ["text"], ["CONDITIONING"]),
    "EmptyHunyuanLatentVideo": ({}, ["width", "height", "length", "batch_size"], ["LATENT"]),
    "RandomNoise": ({}, ["noise_seed", SEED], ["NOISE"]),
    "KSamplerSelect": ({}, ["sampler_name"], ["SAMPLER"]),
    "BasicScheduler": ({"model": "MODEL"}, ["scheduler", "steps", "denoise"], ["SIGMAS"]),
    "BasicGuider": ({"model": "MODEL", "conditioning": "CONDITIONING"}, [], ["GUIDER"]),
    "CFGGuider": ({"model": "MODEL", "positive": "CONDITIONING", "negative": "CONDITIONING"}, ["cfg"], ["GUIDER"]),
    "SamplerCustomAdvanced": ({"noise": "NOISE", "guider": "GUIDER", "sampler": "SAMPLER", "sigmas": "SIGMAS",
                               "latent_image": "LATENT"}, [], ["LATENT", "LATENT"]),
}

CORE_CHOICES = {
    # combo widgets of core nodes and values they offer (comfy/samplers.py SAMPLER_NAMES / SCHEDULER_NAMES,
    # nodes.py UNETLoader / CLIPLoader; a subset of each list)
    ("UNETLoader", "weight_dtype"): {"default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"},
    ("CLIPLoader", "type"): {"stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "wan"},
    ("CLIPLoader", "device"): {"default", "cpu"},
    ("KSamplerSelect", "sampler_name"): {"euler", "euler_ancestral", "dpmpp_2m", "uni_pc", "uni_pc_bh2", "lcm"},
    ("BasicScheduler", "scheduler"): {"normal", "karras", "exponential", "simple", "beta"},
    ("RandomNoise", SEED): {"fixed", "increment", "decrement", "randomize"},
}


def interface(node_type: str) -> tuple[dict[str, str], list[str], list[str], set[str]]:
    """(connection inputs -> type, widget names in order, output types, required connections) of a node type."""
    if node_type in CORE:
        connections, widgets, outputs = CORE[node_type]
        return connections, widgets, outputs, set(connections)
    node = NODE_CLASS_MAPPINGS[node_type]
    inputs = declared_inputs(node)
    connections = {name: kind for name, (_, kind, _) in inputs.items() if not is_widget(kind)}
    required = {name for name, (section, kind, _) in inputs.items() if section == "required" and not is_widget(kind)}
    return connections, [n for n, (_, kind, _) in inputs.items() if is_widget(kind)], list(node.RETURN_TYPES), required


@pytest.fixture(scope="module")
def workflow():
    return json.loads(WORKFLOW.read_text())


NODE_IDS = [n["id"] for n in json.loads(WORKFLOW.read_text())["nodes"]]


def test_the_workflow_uses_core_wan_loaders_and_every_node_of_ours(workflow):
    types = {n["type"] for n in workflow["nodes"]}
    assert types <= set(CORE) | set(NODE_CLASS_MAPPINGS), types - set(CORE) - set(NODE_CLASS_MAPPINGS)
    assert {"UNETLoader", "CLIPLoader", "LoraLoaderModelOnly", "SamplerCustomAdvanced"} <= types
    assert {"WanAlphaMeanShiftNoise", "WanAlphaVAELoader", "WanAlphaDecode", "WanAlphaSaveVideo"} <= types
    clip_loader = next(n for n in workflow["nodes"] if n["type"] == "CLIPLoader")
    assert clip_loader["widgets_values"][1] == "wan"


def test_every_link_joins_matching_types(workflow):
    nodes = {n["id"]: n for n in workflow["nodes"]}
    assert len({link[0] for link in workflow["links"]}) == len(workflow["links"]) == workflow["last_link_id"]
    for link_id, source, slot, target, target_slot, kind in workflow["links"]:
        output = nodes[source]["outputs"][slot]
        _, _, output_types, _ = interface(nodes[source]["type"])
        assert output["type"] == output_types[slot] == kind and link_id in output["links"], link_id
        slot_input = nodes[target]["inputs"][target_slot]
        connections, _, _, _ = interface(nodes[target]["type"])
        assert slot_input["link"] == link_id and connections[slot_input["name"]] == kind == slot_input["type"], link_id


@pytest.mark.parametrize("node_id", NODE_IDS)
def test_every_node_has_its_connections_and_valid_widgets(workflow, node_id):
    node = next(n for n in workflow["nodes"] if n["id"] == node_id)
    connections, widgets, outputs, required = interface(node["type"])
    slots = {i["name"]: i for i in node["inputs"]}
    assert set(slots) <= set(connections) and all(slots[n]["type"] == connections[n] for n in slots)
    assert {n for n, i in slots.items() if i["link"] is not None} >= required, node["type"]
    assert [o["type"] for o in node["outputs"]] == outputs
    assert len(node["widgets_values"]) == len(widgets), node["type"]
    for widget, value in zip(widgets, node["widgets_values"]):
        assert value in CORE_CHOICES.get((node["type"], widget), {value}), (node["type"], widget, value)
    if node["type"] in NODE_CLASS_MAPPINGS:  # our widgets: types, ranges and combo options as ComfyUI checks them
        validate(NODE_CLASS_MAPPINGS[node["type"]], {**dict(zip(widgets, node["widgets_values"])),
                                                      **{n: Link(None, connections[n]) for n in required}})
