"""The bundled sample: the sample project's files (project/), its planted history and the generator."""
