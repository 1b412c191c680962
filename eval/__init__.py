"""Video generation metrics: FVD, CLIP score, temporal consistency, seam score, prompt adherence."""
