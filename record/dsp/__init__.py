"""Radar signal processing: DCA1000 raw ADC I/O, the Numba chain (CARRADA views, ROD2021 RA maps), CFAR.

* :mod:`record.dsp.adc`: :class:`AdcCapture`, :func:`read_adc`, :func:`write_adc` (TI DCA1000 ``.bin`` files).
* :mod:`record.dsp.chain`: :class:`CarradaChain` (RD / RA / AD views, optional RAD cube) and
  :class:`Rod2021Chain` (complex RA maps per kept chirp loop), configured by :class:`ChainConfig`.
* :mod:`record.dsp.reference`: the plain-NumPy reference of both chains.
* :mod:`record.dsp.cfar`: 2-D CA- and OS-CFAR on linear power maps of ``Gamma(looks)`` noise;
  :func:`rd_noise_looks` gives ``looks`` for ``CarradaViews.rd_raw``.
"""

from record.dsp.adc import AdcCapture, read_adc, write_adc
from record.dsp.cfar import ca_cfar, os_cfar, rd_noise_looks
from record.dsp.chain import CarradaChain, Rod2021Chain
from record.dsp.config import CARRADA_DEFAULT, ROD2021_DEFAULT, ChainConfig
from record.dsp.views import CarradaViews

__all__ = [
    "CARRADA_DEFAULT",
    "ROD2021_DEFAULT",
    "AdcCapture",
    "CarradaChain",
    "CarradaViews",
    "ChainConfig",
    "Rod2021Chain",
    "ca_cfar",
    "os_cfar",
    "rd_noise_looks",
    "read_adc",
    "write_adc",
]
