"""Pictures: radar maps with ground truth and detections, precision-recall curves, confusion matrices (matplotlib, Agg)."""
