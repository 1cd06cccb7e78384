//! The backbone's feature-map session for dense views: the model cut before its global pool
//! (see [`crate::onnx_build::dense`]), built in memory from the same file on the same provider.
//!
//! Shapes: input `N` images of `3 × h × w` in the sidecar's layout (any `h, w ≥` the crop);
//! output `N × C × mh × mw`, with `C` the feature width.

use super::{session, Backbone, BackboneError};
use crate::backbone::sidecar::Layout;
use crate::onnx_build::dense::{map_model, MAP_OUTPUT};
use onnx_protobuf::{Message, ModelProto};

/// A batch of feature maps, `n × c × mh × mw` floats.
#[derive(Debug, Clone)]
pub struct Maps {
    pub data: Vec<f32>,
    pub n: usize,
    pub c: usize,
    pub mh: usize,
    pub mw: usize,
}

impl Maps {
    /// Image `i`'s map, `c × mh × mw`.
    pub fn image(&self, i: usize) -> &[f32] {
        let len = self.c * self.mh * self.mw;
        &self.data[i * len..(i + 1) * len]
    }
}

/// The map session and the cells a crop covers on its map.
pub struct MapSession {
    session: ort::session::Session,
    /// Map cells per side of one `input_size` crop.
    pub(super) window: usize,
}

impl Backbone {
    /// Opens the map session once; returns the cells a crop covers per side. Refuses backbones
    /// whose features are not a global average pool of a map of `feature_dim` channels.
    pub fn enable_dense(&mut self) -> Result<usize, BackboneError> {
        if let Some(m) = &self.map {
            return Ok(m.window);
        }
        let path = self.model_path.clone();
        let unsupported = |reason: String| BackboneError::Unsupported {
            path: path.clone(),
            reason,
        };
        let bytes = std::fs::read(&self.model_path)
            .map_err(|e| unsupported(format!("reading it again for dense views: {e}")))?;
        let model = ModelProto::parse_from_bytes(&bytes)
            .map_err(|e| unsupported(format!("not an ONNX model: {e}")))?;
        let cut =
            map_model(model, &self.sidecar.output_name).map_err(|e| unsupported(e.to_string()))?;
        let cut = cut
            .write_to_bytes()
            .map_err(|e| unsupported(format!("writing the map graph: {e}")))?;
        let session = session::open_memory(self.ort, &cut, self.threads, &self.provider)
            .map_err(|reason| unsupported(format!("its map graph does not load: {reason}")))?;
        self.map = Some(MapSession { session, window: 0 });
        let s = self.sidecar.input_size as usize;
        let probe = self.run_maps(&vec![0f32; 3 * s * s], 1, s, s)?;
        if probe.mh != probe.mw || probe.mh == 0 || probe.c != self.feature_dim() {
            self.map = None;
            return Err(unsupported(format!(
                "its map for one {s}×{s} crop is {}×{}×{} (channels × height × width); dense views need a square map with {} channels, the feature width",
                probe.c, probe.mh, probe.mw, self.feature_dim()
            )));
        }
        if let Some(m) = self.map.as_mut() {
            m.window = probe.mh;
        }
        Ok(probe.mh)
    }

    /// Runs `n` images of `h × w` (`input.len() == n·3·h·w`, the sidecar's layout) through the
    /// map session (open it with [`Backbone::enable_dense`] first).
    pub fn run_maps(
        &mut self,
        input: &[f32],
        n: usize,
        h: usize,
        w: usize,
    ) -> Result<Maps, BackboneError> {
        let per_image = 3 * h * w;
        if input.len() != n * per_image || n == 0 {
            return Err(BackboneError::InputSize {
                got: input.len(),
                n,
                per_image,
                expected: n * per_image,
            });
        }
        let shape = match self.sidecar.layout {
            Layout::Nchw => [n, 3, h, w],
            Layout::Nhwc => [n, h, w, 3],
        };
        let run_err = |reason: String| BackboneError::Run { n, reason };
        let Some(m) = self.map.as_mut() else {
            return Err(run_err(
                "the map session is not open (call enable_dense first)".into(),
            ));
        };
        let (d, data) = session::infer(
            &mut m.session,
            &self.sidecar.input_name,
            MAP_OUTPUT,
            shape,
            input,
        )
        .map_err(run_err)?;
        if d.len() != 4 {
            return Err(run_err(format!("map dims {d:?}, expected [{n}, C, h, w]")));
        }
        Ok(Maps {
            data,
            n,
            c: d[1],
            mh: d[2],
            mw: d[3],
        })
    }
}
