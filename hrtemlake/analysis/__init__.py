"""Large-scale analysis of image series: segmentation, instances, tracks, Fourier peaks."""
