export {
  diagnoseWorld, describeChange, diagnosisKernels,
  type WorldDiagnosis, type WorldDiagnosisOptions, type AttributeSensitivity, type CounterfactualPair,
} from './world-diagnosis.js';
