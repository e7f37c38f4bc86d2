"""Reading files and arrays into clean data. Nothing here adds noise: corruption happens
on the device, batch by batch, inside ``DenoisingAutoencoder``."""

from .arrays import check_array, fit_standardizer, load_array, save_array, standardize, unstandardize

__all__ = ["load_array", "save_array", "check_array", "fit_standardizer", "standardize", "unstandardize"]
