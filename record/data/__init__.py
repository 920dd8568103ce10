"""ROD2021 and CARRADA data: file formats, readers, training targets, augmentation and synthetic writers."""
