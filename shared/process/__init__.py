"""What every process sets up once: settings, logs, metrics, its resources, the runtime file, the clock."""
