using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentPlatform.Tests.Infrastructure.Otlp;

/// <summary>One span as a service exported it: the service (its <c>service.name</c>) and the span.</summary>
public sealed record ReceivedSpan(string Service, Span Span)
{
    public string TraceId => Convert.ToHexStringLower(Span.TraceId.Span);

    public string SpanId => Convert.ToHexStringLower(Span.SpanId.Span);

    public string ParentSpanId => Convert.ToHexStringLower(Span.ParentSpanId.Span);

    /// <summary>An attribute's value as text (strings, numbers, booleans); null when the span has none of that key.</summary>
    public string? Attribute(string key) => Span.Attributes.FirstOrDefault(a => a.Key == key)?.Value switch
    {
        null => null,
        { ValueCase: AnyValue.ValueOneofCase.StringValue } v => v.StringValue,
        { ValueCase: AnyValue.ValueOneofCase.IntValue } v => v.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        { ValueCase: AnyValue.ValueOneofCase.BoolValue } v => v.BoolValue ? "true" : "false",
        { ValueCase: AnyValue.ValueOneofCase.DoubleValue } v => v.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => "",
    };
}

/// <summary>
/// An OTLP/HTTP endpoint (<c>http/protobuf</c>), standing where the Aspire dashboard or a collector
/// would: keeps every span it is sent, answers metrics and logs without reading them.
/// </summary>
public sealed class OtlpTraceReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private int _refused;
    private int _posts;
    private int _otherPosts;
    private string? _lastError;

    private OtlpTraceReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<OtlpTraceReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new OtlpTraceReceiver(app);
        app.MapPost("/v1/traces", async (HttpContext context) =>
        {
            Interlocked.Increment(ref receiver._posts);
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            ExportTraceServiceRequest request;
            try
            {
                request = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
            }
            catch (Google.Protobuf.InvalidProtocolBufferException exception)
            {
                Interlocked.Increment(ref receiver._refused);
                receiver._lastError = $"{context.Request.ContentType}: {exception.Message}";
                return Results.BadRequest();
            }
            foreach (var resourceSpans in request.ResourceSpans)
            {
                var service = resourceSpans.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value.StringValue ?? "";
                foreach (var span in resourceSpans.ScopeSpans.SelectMany(scope => scope.Spans))
                {
                    receiver.Spans.Enqueue(new ReceivedSpan(service, span));
                }
            }
            // An empty ExportTraceServiceResponse: full success.
            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/{signal}", () =>
        {
            Interlocked.Increment(ref receiver._otherPosts);
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        receiver.BaseAddress = new Uri(app.Urls.First());
        return receiver;
    }

    /// <summary>
    /// The spans of one trace, once <paramref name="complete"/> says all that are wanted have arrived
    /// (within <see cref="Eventually.Slowly"/>: the whole suite runs beside the AppHost's processes on two cores).
    /// </summary>
    public Task<List<ReceivedSpan>> TraceAsync(string traceId, Func<List<ReceivedSpan>, bool> complete) =>
        Eventually.ReadAsync(() => Task.FromResult(Spans.Where(s => s.TraceId == traceId).ToList()), complete,
            $"the spans of trace {traceId}", Eventually.Slowly, describe: spans => $"{spans.Count} spans of it; {Describe()}");

    /// <summary>What arrived, for a failing test's message: spans per service, and exports refused.</summary>
    public string Describe() =>
        $"received {Spans.Count} spans in {_posts} exports ({string.Join(", ", Spans.GroupBy(s => s.Service).Select(g => $"{g.Key}: {g.Count()}, the last ended {DateTimeOffset.FromUnixTimeMilliseconds((long)(g.Max(s => s.Span.EndTimeUnixNano) / 1_000_000)):HH:mm:ss.fff}"))}), " +
        $"{_otherPosts} metric and log exports, {_refused} refused ({_lastError}); now {DateTimeOffset.UtcNow:HH:mm:ss.fff}";

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
