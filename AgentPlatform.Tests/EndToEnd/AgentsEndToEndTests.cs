using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.Testing;
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
        await DefineAsync("e2e-orders", ["lookup_order"]);
    }

    private async Task DefineAsync(string name, string[] tools, int? timeoutSeconds = null)
    {
        using var admin = Admin();
        using var response = await admin.PutAsJsonAsync($"/admin/v1/agents/{name}", new
        {
            instructions = "You help customers with their orders. Use the tools.",
            model = "default",
            tools = new[] { new { mcpServerUrl = _tools.Endpoint.ToString(), allowedTools = tools, timeoutSeconds } },
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private HttpClient Admin() => Client(AppHostFixture.MasterKey);

    private HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = platform.ApiBaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    /// <summary>A key of a tenant of its own, with the given fields: its id, plaintext and tenant.</summary>
    private async Task<(string Id, string Key, string TenantId)> NewKeyAsync(object key)
    {
        using var admin = Admin();
        using var tenant = await admin.PostAsJsonAsync("/admin/v1/tenants", new { name = $"e2e-agents-{Guid.NewGuid():N}" });
        var tenantId = (await tenant.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var body = JsonSerializer.SerializeToNode(key)!.AsObject();
        body["tenantId"] = tenantId;
        using var created = await admin.PostAsJsonAsync("/admin/v1/keys", body);
        var json = await created.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("id").GetString()!, json.GetProperty("key").GetString()!, tenantId);
    }

    private static async Task<JsonElement> RunAsync(HttpClient client, string agent, string input)
    {
        using var response = await client.PostAsJsonAsync($"/v1/agents/{agent}/runs", new { input }).WaitAsync(AppHostFixture.DefaultTimeout);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Concurrent_runs_through_both_api_replicas_never_spend_past_the_keys_budget_and_their_records_add_up()
    {
        // A step of the AppHost's small simulated model reserves about $0.0025 (its prompt, and 4,096 output
        // tokens at $0.60 per million: no max_tokens is set) and then costs about $0.00001. $0.006 lets about two
        // steps be in flight at once: of ten runs started together across the two Api replicas, some finish
        // and the others stop when their next step cannot reserve.
        const decimal budget = 0.006m;
        var (keyId, key, tenantId) = await NewKeyAsync(new { name = "crowd", budgetUsd = budget, budgetPeriod = "daily" });
        using var client = Client(key);

        var runs = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => RunAsync(client, "e2e-orders", $"Please lookup_order {i}")));

        var statuses = runs.Select(r => r.GetProperty("status").GetString()).ToList();
        Assert.Contains("completed", statuses);
        Assert.Contains("stopped", statuses);
        Assert.All(runs.Where(r => r.GetProperty("status").GetString() == "stopped"), r => Assert.Equal("budget_exceeded", r.GetProperty("stopReason").GetString()));
        var reported = runs.Sum(r => r.GetProperty("costUsd").GetDecimal());
        Assert.True(reported <= budget, $"the runs cost ${reported} together, the budget is ${budget}");
        using var admin = Admin();
        var spend = await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/spend?tenantId={tenantId}");
        var spent = spend.GetProperty("data").EnumerateArray().Single(s => s.GetProperty("id").GetString() == keyId).GetProperty("spentUsd").GetDecimal();
        Assert.True(spent <= budget, $"the budget counted ${spent} of ${budget}");
        // Every model step's record and every run's summary, adding up to what the runs reported.
        var steps = runs.Sum(r => r.GetProperty("steps").EnumerateArray().Count(s => s.GetProperty("type").GetString() == "model"));
        var records = await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", expected: steps + runs.Length);
        Assert.Equal(steps + runs.Length, records.Count);
        Assert.Equal(reported, records.Sum(r => r.GetProperty("costUsd").GetDecimal()));
    }

    [Fact]
    public async Task A_failing_tool_is_an_error_result_the_model_answers_after()
    {
        await DefineAsync("e2e-fragile", ["fail"]);
        using var client = Client(platform.ClientKey);

        var run = await RunAsync(client, "e2e-fragile", "Please fail for me");

        Assert.Equal("completed", run.GetProperty("status").GetString());
        var tool = run.GetProperty("steps")[1];
        Assert.True(tool.GetProperty("isError").GetBoolean());
        Assert.False(string.IsNullOrWhiteSpace(run.GetProperty("output").GetString()));
    }

    [Fact]
    public async Task A_deployment_failing_mid_run_has_the_step_answered_by_the_other()
    {
        // The slow tool outlasts its 1 s timeout: time to break the deployment that took the first step.
        await DefineAsync("e2e-failover", ["slow"], timeoutSeconds: 1);
        using var client = Client(platform.ClientKey);
        string? broken = null;
        try
        {
            var events = await AgentRunFixture.StreamAsync(client, "e2e-failover", """{"input":"Please be slow","stream":true}""", async runEvent =>
            {
                if (runEvent.Type == "step.finished" && broken is null)
                {
                    broken = runEvent.Data.GetProperty("deployment").GetString();
                    await PlatformFixture.InjectFaultAsync(Simulator(broken!), new { kind = "500", rate = 1.0 });
                }
            }).WaitAsync(AppHostFixture.DefaultTimeout);

            var run = events[^1].Data;
            Assert.Equal("completed", run.GetProperty("status").GetString());
            var models = run.GetProperty("steps").EnumerateArray().Where(s => s.GetProperty("type").GetString() == "model").ToList();
            Assert.Equal(2, models.Count);
            Assert.NotEqual(broken, models[1].GetProperty("deployment").GetString());
        }
        finally
        {
            if (broken is not null)
            {
                await PlatformFixture.ClearFaultsAsync(Simulator(broken));
            }
        }
    }

    /// <summary>A simulator of the AppHost by its deployment's name (sim-a, sim-b).</summary>
    private SimulatorEndpoint Simulator(string deployment) => new(platform.App.GetEndpoint(deployment, "http"));

    private sealed record SimulatorEndpoint(Uri BaseAddress) : IRunningService
    {
        public HttpClient CreateHttpClient() => new() { BaseAddress = BaseAddress };
    }

    public async Task DisposeAsync() => await _tools.DisposeAsync();

    [Fact]
    public async Task A_streamed_run_calls_the_mcp_tool_and_answers_in_one_trace_with_a_span_per_step_and_tool_call()
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var client = Client(platform.ClientKey);
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
        using var client = Client(platform.ClientKey);
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
