package engine

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are edgeinfer's Prometheus series. Every series carries the model
// ID as a label; schedulers report through the Batch* and Queue* fields.
type Metrics struct {
	Registry *prometheus.Registry

	Requests        *prometheus.CounterVec   // model, status
	RequestSeconds  *prometheus.HistogramVec // model
	InFlight        *prometheus.GaugeVec     // model
	QueueDepth      *prometheus.GaugeVec     // model
	QueueSeconds    *prometheus.HistogramVec // model
	InferSeconds    *prometheus.HistogramVec // model
	BatchSize       *prometheus.HistogramVec // model
	BatchTokens     *prometheus.HistogramVec // model
	PaddingRatio    *prometheus.HistogramVec // model
	ModelLoads      *prometheus.CounterVec   // model, result
	ModelLoadSecond *prometheus.HistogramVec // model
	ModelUnloads    *prometheus.CounterVec   // model, reason
	ResidentBytes   *prometheus.GaugeVec     // model
}

// NewMetrics registers edgeinfer's series (and the Go runtime's) on a fresh
// registry.
func NewMetrics() *Metrics {
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgeinfer_requests_total", Help: "Inference requests by model and HTTP status."}, []string{"model", "status"}),
		RequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgeinfer_request_duration_seconds", Help: "End-to-end inference latency.", Buckets: latency}, []string{"model"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgeinfer_requests_in_flight", Help: "Requests being served."}, []string{"model"}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgeinfer_queue_depth", Help: "Items waiting in a model's scheduler queue."}, []string{"model"}),
		QueueSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgeinfer_queue_duration_seconds", Help: "Time items wait before their batch runs.", Buckets: latency}, []string{"model"}),
		InferSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgeinfer_batch_inference_duration_seconds", Help: "Runtime of one batch.", Buckets: latency}, []string{"model"}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgeinfer_batch_size", Help: "Items per batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}, []string{"model"}),
		BatchTokens: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgeinfer_batch_tokens", Help: "Padded tokens per batch.", Buckets: prometheus.ExponentialBuckets(16, 2, 12)}, []string{"model"}),
		PaddingRatio: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgeinfer_batch_padding_ratio", Help: "Share of padded positions in a batch.", Buckets: prometheus.LinearBuckets(0, 0.05, 20)}, []string{"model"}),
		ModelLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgeinfer_model_loads_total", Help: "Model loads by result."}, []string{"model", "result"}),
		ModelLoadSecond: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "edgeinfer_model_load_duration_seconds", Help: "Time to load a model.", Buckets: latency}, []string{"model"}),
		ModelUnloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgeinfer_model_unloads_total", Help: "Model unloads by reason (idle, memory budget, requested)."}, []string{"model", "reason"}),
		ResidentBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "edgeinfer_model_resident_bytes", Help: "Size of a loaded model's weights."}, []string{"model"}),
	}
	m.Registry.MustRegister(m.Requests, m.RequestSeconds, m.InFlight, m.QueueDepth, m.QueueSeconds, m.InferSeconds,
		m.BatchSize, m.BatchTokens, m.PaddingRatio, m.ModelLoads, m.ModelLoadSecond, m.ModelUnloads, m.ResidentBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
