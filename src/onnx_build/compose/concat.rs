//! A classifier on concatenated features: several backbones in one graph, fed by the one `image`
//! input, each through its own eval transform and views to its view-averaged feature row; the
//! rows joined (`Concat`, axis 1) in the order the head was trained on, then the head and Softmax.
//!
//! Every name of the second and later backbones is prefixed `b<i>.` so the bodies cannot clash;
//! the first keeps its names (the file then reads like a single-backbone export plus parts).

use super::{check_names, features, finish, Graph, InputKind, Spec, RESIZE_OPSET};
use crate::onnx_build::upgrade::raise_opset;
use crate::onnx_build::{attr_int, BuildError};
use onnx_protobuf::{GraphProto, ModelProto};
use std::collections::HashSet;

/// Composes one classifier from `bodies` (each backbone with its spec; the first spec's head,
/// normalisation and input are the classifier's). `--input image` only.
pub fn compose_concat(bodies: Vec<(ModelProto, Spec)>) -> Result<ModelProto, BuildError> {
    let mut it = bodies.into_iter();
    let Some((mut first, spec0)) = it.next() else {
        return Err(BuildError::Graph("no backbone to compose".into()));
    };
    if spec0.input != InputKind::Image {
        return Err(BuildError::Graph(
            "a classifier on concatenated features takes whole images (--input image): each backbone crops them its own way".into(),
        ));
    }
    let opset = raise_opset(&mut first, RESIZE_OPSET)?;
    check_names(&first, &spec0)?;
    let mut g = Graph {
        nodes: Vec::new(),
        inits: Vec::new(),
        count: 0,
        opset,
    };
    let graph0 = first.graph.as_mut().expect("checked by check_names");
    let mut taken = names(graph0);
    let mut feats = vec![features(&mut g, graph0, &spec0)?];
    for (i, (mut model, spec)) in it.enumerate() {
        let o = raise_opset(&mut model, RESIZE_OPSET)?;
        if o != opset {
            return Err(BuildError::Graph(format!(
                "the backbones need opsets {opset} and {o}; one graph has one: re-export one of them at opset {opset}"
            )));
        }
        check_names(&model, &spec)?;
        let prefix = format!("b{}.", i + 1);
        let mut graph = model.graph.take().expect("checked by check_names");
        rename(&mut graph, &prefix)?;
        let mine = names(&graph);
        if let Some(n) = mine.iter().find(|n| taken.contains(*n)) {
            return Err(BuildError::Graph(format!(
                "the first backbone already uses the name `{n}`; rename it in that backbone"
            )));
        }
        taken.extend(mine);
        let (input, output) = (
            format!("{prefix}{}", spec.backbone_input),
            format!("{prefix}{}", spec.backbone_output),
        );
        let renamed = Spec {
            backbone_input: &input,
            backbone_output: &output,
            ..spec
        };
        feats.push(features(&mut g, &mut graph, &renamed)?);
        graph0.initializer.append(&mut graph.initializer);
        graph0
            .value_info
            .extend(graph.value_info.into_iter().filter(|v| v.name != input));
        for imp in model.opset_import {
            if !first.opset_import.iter().any(|o| o.domain == imp.domain) {
                first.opset_import.push(imp);
            }
        }
    }
    let refs: Vec<&str> = feats.iter().map(String::as_str).collect();
    let joined = g.op("Concat", &refs, vec![attr_int("axis", 1)]);
    let graph0 = first.graph.as_mut().expect("checked by check_names");
    finish(g, graph0, &spec0, &joined);
    Ok(first)
}

/// Every value and initializer name of `graph`.
fn names(graph: &GraphProto) -> HashSet<String> {
    graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().chain(&n.output))
        .chain(graph.initializer.iter().map(|t| &t.name))
        .chain(graph.input.iter().chain(&graph.output).map(|v| &v.name))
        .filter(|n| !n.is_empty())
        .cloned()
        .collect()
}

/// Prefixes every name in `graph` (values, initializers, nodes, inputs, outputs, value infos);
/// refuses sub-graphs (If, Loop, Scan), whose outer names this does not follow.
fn rename(graph: &mut GraphProto, prefix: &str) -> Result<(), BuildError> {
    let p = |s: &mut String| {
        if !s.is_empty() {
            *s = format!("{prefix}{s}");
        }
    };
    for n in &mut graph.node {
        if n.attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            return Err(BuildError::Graph(format!(
                "node `{}` ({}) holds a sub-graph, which a concatenated classifier does not take",
                n.name, n.op_type
            )));
        }
        n.input.iter_mut().for_each(p);
        n.output.iter_mut().for_each(p);
        p(&mut n.name);
    }
    for t in &mut graph.initializer {
        p(&mut t.name);
    }
    for v in graph
        .input
        .iter_mut()
        .chain(&mut graph.output)
        .chain(&mut graph.value_info)
    {
        p(&mut v.name);
    }
    Ok(())
}
