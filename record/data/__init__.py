"""ROD2021 and CARRADA data: file formats, readers, training targets, augmentation and synthetic writers.

Modules (import what you need; this package imports nothing heavy by itself):

* :mod:`record.data.rod2021` / :mod:`record.data.carrada`: the on-disk layouts (:class:`Rod2021Layout`,
  :class:`CarradaLayout`), validated reads, published splits and constants ('tvt' statistics).
* :mod:`record.data.rod2021_files`: ROD2021 annotation / submission text files.
* :mod:`record.data.confmaps`: ROD2021 Gaussian confidence maps.
* :mod:`record.data.augment`: the published augmentations, applied alike to inputs and targets.
* :mod:`record.data.rod2021_datasets` / :mod:`record.data.carrada_datasets`: torch datasets (buffer windows, online
  clips, frame streams for online evaluation).
* :mod:`record.data.check`: ``record data check``; :mod:`record.data.synth_rod2021` /
  :mod:`record.data.synth_carrada`: ``record simulate``.
* :mod:`record.data.files`: validated ``.npy`` / JSON reading shared by all of the above.
"""
