"""Evertz Quartz router: codec (sans-IO), socket client, QuartzService and an emulator."""
