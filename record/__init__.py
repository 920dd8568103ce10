"""RECORD: real-time recurrent CNN object detection on raw automotive FMCW radar.

Subpackages (import what you use; nothing heavy is imported here):

* :mod:`record.sensors`: capture configurations (CARRADA, ROD2021) and bin <-> unit conversions.
* :mod:`record.dsp`: DCA1000 raw ADC I/O, the Numba signal chain (RD / RA / AD), CFAR.
* :mod:`record.sim`: FMCW TDM-MIMO simulator with labelled scenes.
* :mod:`record.data`: ROD2021 and CARRADA readers, targets, augmentation, synthetic writers.
* :mod:`record.models`: RECORD, MV-RECORD and ablations (buffer and online modes).
* :mod:`record.train`, :mod:`record.eval`: training CLI and the datasets' scoring protocols.
"""

__version__ = "0.1.0"
