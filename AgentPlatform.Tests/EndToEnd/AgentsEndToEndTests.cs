using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Tests.Api.Agents;
using AgentPlatform.Tests.Infrastructure;
using AgentPlatform.Tests.Infrastructure.Otlp;
using OpenAI;
using OpenAI.Chat;

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>
/// Agents through the whole platform started by the AppHost (two Api replicas, the Router, the simulated
/// pool, Redis) with a real MCP server: a run, its events, its trace, and the OpenAI SDK calling an agent.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class AgentsEndToEndTests(AppHostFixture platform) : IAsyncLifetime
{
    private TestMcpServer _tools = null!;

    public async Task InitializeAsync()
    {
        _tools = await TestMcpServer.StartAsync();
        using var admin = new HttpClient { BaseAddress = platform.ApiBaseAddress };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", AppHostFixture.MasterKey);
        using var response = await admin.PutAsJsonAsync("/admin/v1/agents/e2e-orders", new
        {
            instructions = "You help customers with their orders. Use the tools.",
            model = "default",
            tools = new[] { new { mcpServerUrl = _tools.Endpoint.ToString(), allowedTools = new[] { "lookup_order" } } },
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task DisposeAsync() => await _tools.DisposeAsync();

    [Fact]
    public async Task A_streamed_run_calls_the_mcp_tool_and_answers_in_one_trace_with_a_span_per_step_and_tool_call()
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var client = new HttpClient { BaseAddress = platform.ApiBaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", platform.ClientKey);
        using var caller = new Activity("caller").SetParentId(ActivityTraceId.CreateFromString(traceId), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start();

        var events = await AgentRunFixture.StreamAsync(client, "e2e-orders", """{"input":"Please lookup_order 1234","stream":true}""").WaitAsync(AppHostFixture.DefaultTimeout);

        var types = events.Select(e => e.Type).ToList();
        Assert.Equal("run.started", types[0]);
        Assert.Equal("run.completed", types[^1]);
        Assert.True(types.IndexOf("tool.call") < types.IndexOf("tool.result") && types.IndexOf("tool.result") < types.IndexOf("text.delta"), string.Join(", ", types));
        var run = events[^1].Data;
        Assert.Equal("completed", run.GetProperty("status").GetString());
        Assert.StartsWith("Order ", run.GetProperty("steps")[1].GetProperty("result").GetString());

        // The run's span, a span per model step with the Router's attempt under it, and one for the tool call.
        static ReceivedSpan? Agent(List<ReceivedSpan> spans) => spans.FirstOrDefault(s => s.Attribute("gen_ai.operation.name") == "invoke_agent");
        var spans = await platform.Telemetry.TraceAsync(traceId, spans =>
            Agent(spans) is { } agent
            && spans.Count(s => s.ParentSpanId == agent.SpanId && s.Attribute("gen_ai.operation.name") == "chat") == 2
            && spans.Count(s => s.Service == "router" && s.Attribute("gen_ai.operation.name") == "chat") >= 2
            && spans.Any(s => s.Attribute("gen_ai.operation.name") == "execute_tool"));
        var agentSpan = Agent(spans);
        Assert.True(agentSpan is not null, platform.Telemetry.Describe());
        Assert.Equal("e2e-orders", agentSpan.Attribute("gen_ai.agent.name"));
        var steps = spans.Where(s => s.ParentSpanId == agentSpan.SpanId && s.Attribute("gen_ai.operation.name") == "chat").ToList();
        Assert.Equal(2, steps.Count);
        Assert.All(steps, step => Assert.True(long.Parse(step.Attribute("gen_ai.usage.input_tokens") ?? "0") > 0));
        var tool = Assert.Single(spans, s => s.Attribute("gen_ai.operation.name") == "execute_tool");
        Assert.Equal("lookup_order", tool.Attribute("gen_ai.tool.name"));
        Assert.Contains(Ancestors(spans, tool), a => a.SpanId == agentSpan.SpanId);
        // Each step went through the Router: its attempts descend from the step spans.
        var attempts = spans.Where(s => s.Service == "router" && s.Attribute("gen_ai.operation.name") == "chat").ToList();
        Assert.All(attempts, attempt => Assert.Contains(Ancestors(spans, attempt), a => steps.Any(step => step.SpanId == a.SpanId)));
    }

    [Fact]
    public async Task The_openai_sdk_calls_the_agent_as_a_model()
    {
        var chat = new OpenAIClient(new ApiKeyCredential(platform.ClientKey), new OpenAIClientOptions { Endpoint = new Uri(platform.ApiBaseAddress, "v1/") })
            .GetChatClient("agent:e2e-orders");

        ClientResult<ChatCompletion> result = await chat.CompleteChatAsync([new UserChatMessage("Please lookup_order 77")]).WaitAsync(AppHostFixture.DefaultTimeout);

        Assert.Equal(ChatFinishReason.Stop, result.Value.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(result.Value.Content[0].Text));
        // The run behind the answer, read back by the id the answer carries.
        var runId = result.GetRawResponse().Headers.TryGetValue("x-agentplatform-agent-run", out var id) ? id : null;
        Assert.NotNull(runId);
        using var client = new HttpClient { BaseAddress = platform.ApiBaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", platform.ClientKey);
        using var response = await client.GetAsync($"/v1/agents/runs/{runId}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var run = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("lookup_order", run.GetProperty("steps")[1].GetProperty("tool").GetString());
        Assert.Equal(result.Value.Content[0].Text, run.GetProperty("output").GetString());
    }

    private static IEnumerable<ReceivedSpan> Ancestors(List<ReceivedSpan> spans, ReceivedSpan span)
    {
        for (var parent = spans.FirstOrDefault(s => s.SpanId == span.ParentSpanId); parent is not null; parent = spans.FirstOrDefault(s => s.SpanId == parent.ParentSpanId))
        {
            yield return parent;
        }
    }
}
