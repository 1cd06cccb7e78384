//! How the parts' plain enums read and print on the command line. The parts know nothing of clap;
//! each `impl ValueEnum` here names a part's enum's values and says what each means in `--help`.

use crate::backbone::sidecar::Precision;
use crate::backbone::Device;
use crate::cache::shard::FeatureDtype;
use crate::checkpoint::HeadKind;
use crate::features::views::ViewSet;
use crate::head::class_weights::ClassWeights;
use crate::head::preset::Preset;
use crate::head::sampler::PassMode;
use crate::head::select::HeadChoice;
use crate::onnx_build::compose::InputKind;
use clap::builder::PossibleValue;
use clap::ValueEnum;

/// `impl ValueEnum for $ty` from its variants, each with its command-line name and help.
macro_rules! values {
    ($ty:ty { $($variant:ident => $name:literal, $help:literal;)+ }) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(<$ty>::$variant),+]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $(<$ty>::$variant => PossibleValue::new($name).help($help),)+
                })
            }
        }
    };
}

values!(ViewSet {
    Centre => "centre", "The eval transform's centre crop and its flip (2 views)";
    TenCrop => "ten-crop", "The 4 corner crops and the centre crop at the eval scale, each with its flip (10 views)";
    TenCropWhole => "ten-crop+whole", "The 10 crops plus the whole image padded to a square on white, and its flip (12 views)";
    Dense => "dense", "The 5 crop windows and the global mean of the feature map of the whole eval-scale image, each with its flip (12 views from 2 backbone passes; needs a globally pooled backbone)";
    DenseWhole => "dense+whole", "The 12 dense views plus the exact whole image padded to a square on white, and its flip (14 views from 4 backbone passes: 2 of the eval-scale image, 2 of 224²)";
    DenseWholeNoFlip => "dense+whole-noflip", "The 12 dense views plus the exact whole image padded to a square on white, unflipped (13 views from 3 backbone passes: 2 of the eval-scale image, 1 of 224²)";
    DenseNoFlipWhole => "dense-noflip+whole", "The 6 dense views of the image alone (no mirror pass) plus the exact whole image padded to a square on white, and its flip (8 views from 3 backbone passes: 1 of the eval-scale image, 2 of 224²)";
    DenseNoFlipWholeNoFlip => "dense-noflip+whole-noflip", "The 6 dense views of the image alone plus the exact whole image padded to a square on white, unflipped (7 views from 2 backbone passes: 1 of the eval-scale image, 1 of 224²)";
});

values!(HeadChoice {
    Mlp => "mlp", "The notebook's MLP (hand-written backprop + Adam)";
    Logistic => "logistic", "L2-normalised features, multinomial logistic regression, C chosen on valid";
    Auto => "auto", "Fit the logistic grid, the MLP and its seed ensemble (--ensemble), keep the best by valid top-1 (ties: NLL)";
});

values!(HeadKind {
    Mlp => "mlp", "Linear → ReLU → Dropout → Linear → LogSoftmax, trained with Adam";
    Logistic => "logistic", "Multinomial logistic regression (L-BFGS on L2-normalised features)";
    MlpEnsemble => "mlp-ensemble", "MLPs that differ only in their seed, predicting the mean of their probabilities";
});

values!(Preset {
    Default => "default", "Small-data aware: every cached view in every epoch (one view per image, cycling through them, from 2,048 training images on), a batch size that gives at least 16 Adam steps per epoch (between 16 and 128), inverted dropout 0.5 on the input features, 60 epochs at most with patience 8";
    Notebook => "notebook", "The notebook: batch 128, one view per image per epoch, 30 epochs, patience 5";
});

values!(PassMode {
    One => "one", "N samples per epoch: image i in epoch e uses pass (e + o_i) mod P with a seeded offset o_i, so P consecutive epochs see every view once (the notebook's epoch size)";
    All => "all", "N·P samples per epoch: every view of every image once";
});

values!(ClassWeights {
    None => "none", "Every sample counts the same (the notebook)";
    Balanced => "balanced", "Inverse class frequency, N/(C·n_c) for C classes present (scikit-learn's \"balanced\")";
});

values!(FeatureDtype {
    F32 => "f32", "32-bit floats, as the backbone computes them";
    F16 => "f16", "16-bit floats: half the cache size";
});

values!(InputKind {
    Image => "image", "uint8 RGB [1, H, W, 3], any size; the whole eval transform runs in the graph";
    Crop => "crop", "uint8 RGB [N, S, S, 3] crops already resized and centre-cropped";
});

values!(Device {
    Auto => "auto", "CUDA when it registers, else CPU (said once on stderr)";
    Cpu => "cpu", "ONNX Runtime's CPU execution provider";
    Cuda => "cuda", "CUDA or an error naming what is missing";
});

values!(Precision {
    F32 => "f32", "32-bit floats";
    F16 => "f16", "Half the file size, for GPUs; slow on CPU in ONNX Runtime";
    Int8 => "int8", "The static int8 (QDQ) backbone made by `pipeline quantize` (pass it as --model)";
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value's name is the one its part serialises (config files and the CLI agree).
    #[test]
    fn names_match_the_parts_serialised_names() {
        fn check<T: ValueEnum + serde::Serialize>() {
            for v in T::value_variants() {
                let cli = v.to_possible_value().unwrap().get_name().to_owned();
                let json = serde_json::to_value(v).unwrap();
                assert_eq!(json.as_str(), Some(cli.as_str()));
            }
        }
        check::<ViewSet>();
        check::<HeadChoice>();
        check::<HeadKind>();
        check::<Preset>();
        check::<PassMode>();
        check::<ClassWeights>();
        check::<FeatureDtype>();
        check::<InputKind>();
        check::<Precision>();
        check::<Device>();
    }
}
