"""daekit: denoising autoencoders for images, speech, time series and tables.

The core is three swappable parts and a loop: a noise process (``daekit.noise``), an
encoder–decoder (``daekit.create_model``), a loss (``DenoisingAutoencoder``), trained by
``daekit.Trainer``. Optional packages are imported only where they are used.
"""

__version__ = "0.1.0"

from . import losses, noise
from .apps.anomaly import DAEDetector
from .apps.anomaly_stream import StreamDetector
from .apps.features import DAEFeatureExtractor
from .apps.features_classifier import DAEClassifier
from .apps.image import ImageDenoiser
from .apps.speech import SpeechEnhancer
from .dae import DenoisingAutoencoder
from .export import export_model_folder
from .io import ModelFileError
from .models import create_model, list_models, register_model
from .train import TrainConfig, Trainer

__all__ = [
    "__version__",
    "noise",
    "losses",
    "DenoisingAutoencoder",
    "ModelFileError",
    "create_model",
    "list_models",
    "register_model",
    "Trainer",
    "TrainConfig",
    "DAEDetector",
    "StreamDetector",
    "ImageDenoiser",
    "SpeechEnhancer",
    "DAEFeatureExtractor",
    "DAEClassifier",
    "export_model_folder",
]
