using System.Diagnostics;
using System.Net;
using AgentPlatform.Tests.Infrastructure;
using AgentPlatform.Tests.Infrastructure.Otlp;

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>What the Aspire dashboard shows of a request: its spans, as the services export them over OTLP.</summary>
[Collection(AppHostCollection.Name)]
public sealed class TracingEndToEndTests(AppHostFixture platform)
{
    [Fact]
    public async Task A_chat_completion_is_one_trace_through_Api_Router_and_the_provider_call_with_GenAI_attributes()
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var client = new HttpClient { BaseAddress = platform.ApiBaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", platform.ClientKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = Json.Body("""{"model":"default","messages":[{"role":"user","content":"Trace me"}]}"""),
        };
        // The caller's own trace, as an instrumented client has one: HttpClient sends it as traceparent
        // (itself, or through the OpenTelemetry instrumentation of an in-process Api elsewhere in the
        // tests, which would overwrite a header set by hand).
        using var caller = new Activity("caller").SetParentId(ActivityTraceId.CreateFromString(traceId), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start();

        using var response = await client.SendAsync(request).WaitAsync(AppHostFixture.DefaultTimeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // The Router's attempt (the Api's server span carries gen_ai.operation.name too).
        static ReceivedSpan? Attempt(List<ReceivedSpan> spans) => spans.FirstOrDefault(s => s.Service == "router" && s.Attribute("gen_ai.operation.name") == "chat");
        // Each service exports its spans as they end, in batches: wait for the whole chain.
        var spans = await platform.Telemetry.TraceAsync(traceId, spans =>
            Attempt(spans) is { } attempt
            && Ancestors(spans, attempt).Any(s => s.Service == "api" && s.Span.Kind == SpanKindServer)
            && Children(spans, attempt).SelectMany(call => Children(spans, call)).Any());

        var requestId = response.Headers.GetValues("x-request-id").Single();
        Assert.True(spans.Count > 0, $"No span of trace {traceId} arrived; the request's own spans: " +
            string.Join(", ", platform.Telemetry.Spans.Where(s => s.Attribute("agentplatform.request_id") == requestId).Select(s => $"{s.Service} {s.Span.Name} trace {s.TraceId} parent {s.ParentSpanId}")) +
            $"; {platform.Telemetry.Describe()}");
        var api = Assert.Single(spans, s => s.Service == "api" && s.Span.Kind == SpanKindServer);
        var attempt = Attempt(spans);
        Assert.NotNull(attempt);
        // One chain: the Api's server span → its call to the Router → the Router's server span → the attempt → the provider call.
        var chain = Ancestors(spans, attempt).Select(s => (s.Service, s.Span.Kind)).Take(3).ToList();
        Assert.True(chain.SequenceEqual([("router", SpanKindServer), ("api", SpanKindClient), ("api", SpanKindServer)]),
            $"The attempt's ancestors: {string.Join(", ", chain)}; {platform.Telemetry.Describe()}");
        Assert.Equal("router", attempt.Service);
        Assert.Equal(SpanKindClient, attempt.Span.Kind);
        Assert.Equal("chat", attempt.Attribute("gen_ai.operation.name"));
        Assert.Equal("openai", attempt.Attribute("gen_ai.provider.name"));
        Assert.False(string.IsNullOrEmpty(attempt.Attribute("gen_ai.request.model")));
        Assert.True(long.Parse(attempt.Attribute("gen_ai.usage.input_tokens") ?? "0") > 0);
        Assert.True(long.Parse(attempt.Attribute("gen_ai.usage.output_tokens") ?? "0") > 0);
        Assert.Equal("default", attempt.Attribute("agentplatform.model_group"));
        // The provider call: the Router's HTTP call, answered by the simulator's server span.
        var call = Assert.Single(Children(spans, attempt), s => s.Service == "router" && s.Span.Kind == SpanKindClient);
        Assert.Contains(Children(spans, call), s => s.Service != "router" && s.Service != "api" && s.Span.Kind == SpanKindServer);
        Assert.Equal("default", api.Attribute("gen_ai.request.model"));
    }

    private const int SpanKindServer = 2;
    private const int SpanKindClient = 3;

    private static IEnumerable<ReceivedSpan> Children(List<ReceivedSpan> spans, ReceivedSpan parent) =>
        spans.Where(s => s.ParentSpanId == parent.SpanId);

    /// <summary>The span's parent, its parent's parent, and so on, as far as they were received.</summary>
    private static IEnumerable<ReceivedSpan> Ancestors(List<ReceivedSpan> spans, ReceivedSpan span)
    {
        for (var parent = spans.FirstOrDefault(s => s.SpanId == span.ParentSpanId); parent is not null; parent = spans.FirstOrDefault(s => s.SpanId == parent.ParentSpanId))
        {
            yield return parent;
        }
    }
}
