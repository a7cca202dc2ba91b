// Placeholder until the simulator sources land.
