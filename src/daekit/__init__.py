"""daekit: denoising autoencoders for images, speech, time series and tables.

The core is three swappable parts and a loop: a noise process (``daekit.noise``), an
encoder–decoder (``daekit.create_model``), a loss (``DenoisingAutoencoder``), trained by
``daekit.Trainer``. Optional packages are imported only where they are used.
"""

__version__ = "0.1.0"

from . import losses, noise
from .dae import DenoisingAutoencoder
from .io import ModelFileError
from .models import create_model, list_models, register_model
from .train import TrainConfig, Trainer
from .apps.anomaly import DAEDetector
from .apps.anomaly_stream import StreamDetector
from .apps.image import ImageDenoiser
from .apps.speech import SpeechEnhancer
from .apps.features import DAEClassifier, DAEFeatureExtractor
from .export import export_model_folder

__all__ = [
    "__version__", "noise", "losses",
    "DenoisingAutoencoder", "ModelFileError",
    "create_model", "list_models", "register_model",
    "Trainer", "TrainConfig",
    "DAEDetector", "StreamDetector",
    "ImageDenoiser",
    "SpeechEnhancer",
    "DAEFeatureExtractor", "DAEClassifier",
    "export_model_folder",
]
