"""Edits to an exported ONNX graph that make generation cheaper; applied once, at export.

`add_logits_to_keep`: the exporter's graph computes vocabulary logits for every position, but generating
needs only the last one. On a 512-token prompt that is a 512 x hidden x vocab matrix product and a ~100 MB
buffer thrown away. A `logits_to_keep` input (as in transformers) slices the hidden states before the language-
model head: 1 keeps the last position, 0 keeps them all (scoring needs every position).

`drop_cache_casts`: some exports (CodeGen) end each KV-cache output with a float-to-float Cast that ONNX Runtime
keeps because it feeds a graph output, copying the whole cache once more on every token; at a 512-token
context that is about a third of a decode step's memory traffic.
"""

from __future__ import annotations

from pathlib import Path

LOGITS_TO_KEEP = "logits_to_keep"
_PASS_THROUGH = {"Cast", "Add", "Identity", "Reshape"}


def _lm_head(graph):
    """The MatMul that produces the logits, found by walking back from the output through bias adds and casts."""
    producers = {out: node for node in graph.node for out in node.output}
    initializers = {i.name for i in graph.initializer}
    name = "logits"
    for _ in range(8):
        node = producers.get(name)
        if node is None:
            return None
        if node.op_type in ("MatMul", "Gemm"):
            return node
        if node.op_type not in _PASS_THROUGH:
            return None
        candidates = [i for i in node.input if i and i not in initializers and i in producers]
        if node.op_type == "Reshape":
            candidates = candidates[:1]
        if len(candidates) != 1:
            return None
        name = candidates[0]
    return None


def optimize_for_generation(model_file: Path) -> None:
    """Applies every edit below to an exported model file in place."""
    import onnx

    model = onnx.load(str(model_file), load_external_data=False)
    changed = drop_cache_casts(model.graph)
    changed |= add_logits_to_keep(model.graph)
    if changed:
        order = _topological(list(model.graph.node))
        del model.graph.node[:]
        model.graph.node.extend(order)
        onnx.save(model, str(model_file))


def drop_cache_casts(graph) -> bool:
    """Removes Casts that turn a concatenated cache into the very type it already has."""
    inputs = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    outputs = {o.name: o.type.tensor_type.elem_type for o in graph.output}
    producers = {out: node for node in graph.node for out in node.output}
    dropped = []
    for node in graph.node:
        if node.op_type != "Cast" or node.output[0] not in outputs:
            continue
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        source = producers.get(node.input[0])
        if source is None or source.op_type != "Concat" or to != outputs[node.output[0]]:
            continue
        if not any(inputs.get(name) == to for name in source.input):
            continue
        wire, output = node.input[0], node.output[0]
        for other in graph.node:
            for k, name in enumerate(other.input):
                if name == wire:
                    other.input[k] = output
        source.output[0] = output
        dropped.append(node)
    for node in dropped:
        graph.node.remove(node)
    return bool(dropped)


def add_logits_to_keep(graph) -> bool:
    """Adds the `logits_to_keep` input; False (graph untouched) when its head is not recognised or already has it."""
    from onnx import TensorProto, helper

    if any(i.name == LOGITS_TO_KEEP for i in graph.input):
        return False
    head = _lm_head(graph)
    if head is None:
        return False
    hidden = head.input[0]
    sliced = hidden + "/last_positions"
    graph.input.append(helper.make_tensor_value_info(LOGITS_TO_KEEP, TensorProto.INT64, [1]))
    graph.node.extend(
        [
            helper.make_node("Neg", [LOGITS_TO_KEEP], ["logits_to_keep/start"], name="logits_to_keep/Neg"),
            helper.make_node("Constant", [], ["logits_to_keep/end"], name="logits_to_keep/End",
                             value=helper.make_tensor("end", TensorProto.INT64, [1], [2**62])),
            helper.make_node("Constant", [], ["logits_to_keep/axis"], name="logits_to_keep/Axis",
                             value=helper.make_tensor("axis", TensorProto.INT64, [1], [1])),
            helper.make_node("Slice", [hidden, "logits_to_keep/start", "logits_to_keep/end", "logits_to_keep/axis"],
                             [sliced], name="logits_to_keep/Slice"),
        ]
    )
    head.input[0] = sliced
    for output in graph.output:
        if output.name == "logits":
            output.type.tensor_type.shape.dim[1].dim_param = "kept_positions"
    return True


def _topological(nodes):
    """Nodes must stay sorted so each comes after its inputs: the slice was appended after the head it feeds."""
    produced_by = {out: i for i, n in enumerate(nodes) for out in n.output}
    done: set[int] = set()
    order = []
    for start in range(len(nodes)):
        stack = [(start, False)]
        while stack:
            index, expanded = stack.pop()
            if index in done:
                continue
            if expanded:
                done.add(index)
                order.append(nodes[index])
                continue
            stack.append((index, True))
            for name in nodes[index].input:
                parent = produced_by.get(name)
                if parent is not None and parent not in done:
                    stack.append((parent, False))
    return order
