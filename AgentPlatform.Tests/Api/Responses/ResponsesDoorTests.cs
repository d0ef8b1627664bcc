using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Responses;

/// <summary>
/// A Redis, a simulator, a Router and an Api. Groups: <c>gpt</c> (the simulator as OpenAI, reached through Chat
/// Completions), <c>claude</c> (as Anthropic), <c>gpt-native</c> and <c>azure-native</c> (as OpenAI and Azure OpenAI
/// with the Responses API: passed through).
/// </summary>
public sealed class ResponsesFixture : IAsyncLifetime
{
    /// <summary>What one tenant may store: a few dozen small responses, a handful of large ones.</summary>
    public const long MaxStoredBytes = 64 * 1024;

    public TestRedis Redis { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> Simulator { get; private set; } = null!;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public KestrelApp<ApiOptions> Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await TestRedis.StartAsync();
        Simulator = PlatformFixture.StartSimulator();
        Router = new KestrelApp<RouterOptions>(new RouterSettings
        {
            { "ConnectionStrings:cache", Redis.ConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "gpt", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim-gpt", Simulator.BaseAddress)] } },
            { "claude", new ModelGroupOptions { Deployments = [RouterSettings.Anthropic("sim-claude", Simulator.BaseAddress)] } },
            { "gpt-native", new ModelGroupOptions { Deployments = [RouterSettings.WithResponsesApi(RouterSettings.Deployment("sim-gpt-native", Simulator.BaseAddress))] } },
            { "azure-native", new ModelGroupOptions { Deployments = [RouterSettings.WithResponsesApi(RouterSettings.Azure("sim-azure-native", Simulator.BaseAddress))] } },
        }).Start();
        Api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(Redis, Router.BaseAddress, new Dictionary<string, string?>
        {
            ["AgentPlatform:ResponsesMaxStoredBytes"] = MaxStoredBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        })).Start();
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Router.DisposeAsync();
        await Simulator.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// <c>POST /v1/responses</c> through the same stages as a chat completion — translated through Chat Completions,
/// or passed through to a deployment with the Responses API — with the conversation kept by the platform:
/// stored, read, deleted and continued by <c>previous_response_id</c>, per tenant.
/// </summary>
public sealed class ResponsesDoorTests(ResponsesFixture platform) : IClassFixture<ResponsesFixture>
{
    private static readonly object[] Weather =
    [
        new { type = "function", name = "get_weather", description = "The weather in a city.", parameters = new { type = "object", properties = new { city = new { type = "string" } }, required = new[] { "city" } } },
    ];

    private async Task<(string KeyId, HttpClient Client)> NewKeyAsync(string? tenantId = null, object? key = null)
    {
        tenantId ??= await ApiCalls.CreateTenantAsync(platform.Api, new { name = $"t-{Guid.NewGuid():N}" });
        var (keyId, plaintext) = await ApiCalls.CreateKeyAsync(platform.Api, tenantId, key ?? new { name = "codex" });
        return (keyId, ApiCalls.Client(platform.Api, plaintext));
    }

    [Theory]
    [InlineData("gpt")]
    [InlineData("claude")]
    [InlineData("gpt-native")]
    [InlineData("azure-native")]
    public async Task A_response_has_its_text_as_an_output_message_and_is_recorded_at_its_door(string model)
    {
        var (keyId, client) = await NewKeyAsync();

        using var created = await client.PostAsJsonAsync("/v1/responses", new { model, instructions = "Be brief.", input = "Hello there" });

        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var response = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("response", "completed"), (response.GetProperty("object").GetString(), response.GetProperty("status").GetString()));
        Assert.StartsWith("resp_", response.GetProperty("id").GetString());
        var text = TextOf(response);
        Assert.False(string.IsNullOrWhiteSpace(text));
        var usage = response.GetProperty("usage");
        Assert.Equal(text.Split(' ').Length, usage.GetProperty("output_tokens").GetInt64());
        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.Equal(("responses", false), (record.GetProperty("door").GetString(), record.GetProperty("estimated").GetBoolean()));
        Assert.Equal(usage.GetProperty("input_tokens").GetInt64(), record.GetProperty("promptTokens").GetInt64());
        Assert.Equal(usage.GetProperty("output_tokens").GetInt64(), record.GetProperty("completionTokens").GetInt64());
    }

    [Theory]
    [InlineData("gpt")]
    [InlineData("claude")]
    [InlineData("gpt-native")]
    [InlineData("azure-native")]
    public async Task A_stream_comes_as_the_responses_events_and_ends_with_the_whole_response(string model)
    {
        var (keyId, client) = await NewKeyAsync();

        using var streamed = await client.PostAsJsonAsync("/v1/responses", new { model, input = "Stream to me", stream = true });

        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        var data = (await streamed.Content.ReadAsStringAsync()).Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement).ToList();
        var types = data.Select(d => d.GetProperty("type").GetString()).ToList();
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], types[..4]);
        Assert.Equal(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"], types[^4..]);
        Assert.Equal(Enumerable.Range(0, data.Count), data.Select(d => d.GetProperty("sequence_number").GetInt32()));
        var deltas = string.Concat(data.Where(d => d.GetProperty("type").GetString() == "response.output_text.delta").Select(d => d.GetProperty("delta").GetString()));
        var completed = data[^1].GetProperty("response");
        Assert.Equal(deltas, TextOf(completed));
        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.False(record.GetProperty("estimated").GetBoolean());
        Assert.Equal(completed.GetProperty("usage").GetProperty("output_tokens").GetInt64(), record.GetProperty("completionTokens").GetInt64());
    }

    [Theory]
    [InlineData("gpt", false)]
    [InlineData("gpt", true)]
    [InlineData("claude", false)]
    [InlineData("claude", true)]
    [InlineData("gpt-native", false)]
    [InlineData("gpt-native", true)]
    [InlineData("azure-native", true)]
    public async Task A_function_call_and_its_output_continue_the_conversation_by_previous_response_id(string model, bool stream)
    {
        var (_, client) = await NewKeyAsync();

        using var asked = await client.PostAsJsonAsync("/v1/responses", new { model, input = "What is the weather in Paris? Use get_weather.", tools = Weather, stream });
        var first = stream ? await CompletedOfStreamAsync(asked) : await asked.Content.ReadFromJsonAsync<JsonElement>();
        var call = first.GetProperty("output").EnumerateArray().Single(item => item.GetProperty("type").GetString() == "function_call");
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.Equal("sim", JsonDocument.Parse(call.GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString());

        using var answered = await client.PostAsJsonAsync("/v1/responses", new
        {
            model,
            previous_response_id = first.GetProperty("id").GetString(),
            tools = Weather,
            input = new[] { new { type = "function_call_output", call_id = call.GetProperty("call_id").GetString(), output = "Sunny, 21 °C" } },
        });

        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        var second = await answered.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrWhiteSpace(TextOf(second)));
        using var stored = await client.GetAsync($"/v1/responses/{second.GetProperty("id").GetString()}");
        Assert.Equal(first.GetProperty("id").GetString(), (await stored.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("previous_response_id").GetString());
    }

    [Fact]
    public async Task A_stored_response_is_read_and_deleted_by_its_tenant_only_and_an_unstored_one_is_not_found()
    {
        var tenantId = await ApiCalls.CreateTenantAsync(platform.Api, new { name = $"t-{Guid.NewGuid():N}" });
        var (_, client) = await NewKeyAsync(tenantId);
        var (_, sameTenant) = await NewKeyAsync(tenantId);
        var (_, otherTenant) = await NewKeyAsync();

        using var created = await client.PostAsJsonAsync("/v1/responses", new { model = "gpt", input = "Remember me" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        using var unstored = await client.PostAsJsonAsync("/v1/responses", new { model = "gpt", input = "Forget me", store = false });
        var unstoredId = (await unstored.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        using var read = await sameTenant.GetAsync($"/v1/responses/{id}");
        using var readByOther = await otherTenant.GetAsync($"/v1/responses/{id}");
        using var chainedByOther = await otherTenant.PostAsJsonAsync("/v1/responses", new { model = "gpt", input = "Go on", previous_response_id = id });
        using var deletedByOther = await otherTenant.DeleteAsync($"/v1/responses/{id}");
        using var readUnstored = await client.GetAsync($"/v1/responses/{unstoredId}");
        using var deleted = await client.DeleteAsync($"/v1/responses/{id}");
        using var readDeleted = await client.GetAsync($"/v1/responses/{id}");

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(id, (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, readByOther.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, chainedByOther.StatusCode);
        Assert.Equal("previous_response_not_found", (await Json.ReadErrorAsync(chainedByOther)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.NotFound, deletedByOther.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, readUnstored.StatusCode);
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.True((await deleted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("deleted").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, readDeleted.StatusCode);
    }

    [Theory]
    [InlineData("gpt", "web_search")]
    [InlineData("gpt-native", "web_search")]
    [InlineData("gpt-native", "file_search")]
    [InlineData("azure-native", "image_generation")]
    [InlineData("gpt-native", "a_hosted_tool_of_tomorrow")]
    public async Task Hosted_tools_are_refused_at_every_deployment_because_no_budget_can_hold_their_cost(string model, string tool)
    {
        var (keyId, client) = await NewKeyAsync();

        using var hosted = await client.PostAsJsonAsync("/v1/responses", new { model, input = "Search", tools = new object[] { Weather[0], new { type = tool } } });

        Assert.Equal(HttpStatusCode.BadRequest, hosted.StatusCode);
        var error = await Json.ReadErrorAsync(hosted);
        Assert.Equal(("invalid_request_error", "tools"), (error.GetProperty("type").GetString(), error.GetProperty("param").GetString()));
        Assert.StartsWith("Server tools", error.GetProperty("message").GetString());
        using var admin = ApiCalls.Admin(platform.Api);
        Assert.Equal("refused", Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1)).GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task What_chat_completions_cannot_say_and_malformed_requests_are_refused_by_name()
    {
        var (_, client) = await NewKeyAsync();

        using var file = await client.PostAsJsonAsync("/v1/responses", new
        {
            model = "gpt",
            input = new[] { new { type = "message", role = "user", content = new object[] { new { type = "input_file", file_id = "file-1" } } } },
        });
        using var noInput = await client.PostAsJsonAsync("/v1/responses", new { model = "gpt" });
        using var badMax = await client.PostAsJsonAsync("/v1/responses", new { model = "gpt", input = "Hi", max_output_tokens = 0 });

        Assert.Equal(HttpStatusCode.BadRequest, file.StatusCode);
        var fileError = await Json.ReadErrorAsync(file);
        Assert.Equal("unsupported_by_provider", fileError.GetProperty("code").GetString());
        Assert.Contains("input_file", fileError.GetProperty("message").GetString());
        Assert.Equal("input", (await Json.ReadErrorAsync(noInput)).GetProperty("param").GetString());
        Assert.Equal("max_output_tokens", (await Json.ReadErrorAsync(badMax)).GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("gpt-native", false, "sim-model")]
    [InlineData("azure-native", true, "sim-deployment")]
    public async Task A_deployment_with_the_responses_api_is_passed_the_request_with_its_reasoning_and_keeps_no_copy(string model, bool stream, string deploymentModel)
    {
        var (keyId, client) = await NewKeyAsync();

        using var created = await client.PostAsJsonAsync("/v1/responses", new { model, input = "Think first", reasoning = new { effort = "high" }, stream });

        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var response = stream ? await CompletedOfStreamAsync(created) : await created.Content.ReadFromJsonAsync<JsonElement>();
        // The simulator echoes what it was sent: the deployment's model, and store false (the platform keeps the conversation).
        Assert.Equal((deploymentModel, false), (response.GetProperty("model").GetString(), response.GetProperty("store").GetBoolean()));
        Assert.Equal("reasoning", response.GetProperty("output")[0].GetProperty("type").GetString());
        var usage = response.GetProperty("usage");
        Assert.Equal(AgentPlatform.Simulator.Completions.ResponsesApi.ReasoningTokens, usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(TextOf(response).Split(' ').Length + AgentPlatform.Simulator.Completions.ResponsesApi.ReasoningTokens, usage.GetProperty("output_tokens").GetInt32());
        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.Equal(usage.GetProperty("output_tokens").GetInt64(), record.GetProperty("completionTokens").GetInt64());
    }

    [Theory]
    [InlineData("gpt", false)]
    [InlineData("gpt", true)]
    [InlineData("gpt-native", false)]
    [InlineData("claude", true)]
    public async Task A_cached_response_is_replayed_on_the_responses_wire_with_its_own_id_and_stored_for_its_chain(string model, bool filledByStream)
    {
        var (keyId, client) = await NewKeyAsync(key: new { name = "cached", cacheEnabled = true });
        var input = $"Cache me {Guid.NewGuid():N}";

        using var fill = await client.PostAsJsonAsync("/v1/responses", new { model, input, stream = filledByStream });
        var filled = filledByStream ? await CompletedOfStreamAsync(fill) : await fill.Content.ReadFromJsonAsync<JsonElement>();
        using var asJson = await client.PostAsJsonAsync("/v1/responses", new { model, input });
        using var asStream = await client.PostAsJsonAsync("/v1/responses", new { model, input, stream = true, store = false });

        Assert.Equal(("miss", "hit", "hit"), (Cache(fill), Cache(asJson), Cache(asStream)));
        var hit = await asJson.Content.ReadFromJsonAsync<JsonElement>();
        var streamed = await asStream.Content.ReadAsStringAsync();
        var events = streamed.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement).ToList();
        var replayed = events[^1].GetProperty("response");
        // The same answer, each time under its own id.
        Assert.Equal(TextOf(filled), TextOf(hit));
        Assert.Equal(TextOf(filled), TextOf(replayed));
        Assert.Equal(TextOf(filled), string.Concat(events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta").Select(e => e.GetProperty("delta").GetString())));
        Assert.Equal(3, new[] { filled, hit, replayed }.Select(r => r.GetProperty("id").GetString()).Distinct().Count());
        Assert.Equal(filled.GetProperty("usage").GetProperty("output_tokens").GetInt64(), hit.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], events[..4].Select(e => e.GetProperty("type").GetString()));
        Assert.Equal("response.completed", events[^1].GetProperty("type").GetString());
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.GetProperty("sequence_number").GetInt32()));
        // A hit is stored for its own chain (unless it said store false), and continues it.
        using var storedHit = await client.GetAsync($"/v1/responses/{hit.GetProperty("id").GetString()}");
        using var unstoredHit = await client.GetAsync($"/v1/responses/{replayed.GetProperty("id").GetString()}");
        using var continued = await client.PostAsJsonAsync("/v1/responses", new { model, input = "And then?", previous_response_id = hit.GetProperty("id").GetString() });
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.NotFound, HttpStatusCode.OK), (storedHit.StatusCode, unstoredHit.StatusCode, continued.StatusCode));
        using var admin = ApiCalls.Admin(platform.Api);
        var records = await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 4);
        Assert.Equal(["hit", "hit", "miss", "miss"], records.Select(r => r.GetProperty("cache").GetString()).Order());
        Assert.All(records, r => Assert.Equal("responses", r.GetProperty("door").GetString()));
    }

    [Fact]
    public async Task A_tenant_at_its_stored_bytes_limit_is_refused_storing_more_until_it_deletes_but_not_answers_unstored()
    {
        var (_, client) = await NewKeyAsync();
        var large = new string('z', 12 * 1024);
        var stored = new List<string>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 10 && refused is null; i++)
        {
            var created = await client.PostAsJsonAsync("/v1/responses", new { model = "gpt", input = $"{i} {large}" });
            if (created.StatusCode == HttpStatusCode.OK)
            {
                stored.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
                created.Dispose();
            }
            else
            {
                refused = created;
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var error = await Json.ReadErrorAsync(refused);
            Assert.Equal(("stored_responses_limit_reached", "store"), (error.GetProperty("code").GetString(), error.GetProperty("param").GetString()));
        }
        // Past the limit by at most the one response that reached it.
        Assert.InRange(stored.Count, (int)(ResponsesFixture.MaxStoredBytes / (14 * 1024)), (int)(ResponsesFixture.MaxStoredBytes / (12 * 1024)) + 1);
        using var unstored = await client.PostAsJsonAsync("/v1/responses", new { model = "gpt", input = "Not kept", store = false });
        Assert.Equal(HttpStatusCode.OK, unstored.StatusCode);
        using var deleted = await client.DeleteAsync($"/v1/responses/{stored[0]}");
        using var deleted2 = await client.DeleteAsync($"/v1/responses/{stored[1]}");
        using var again = await client.PostAsJsonAsync("/v1/responses", new { model = "gpt", input = "Room again" });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task A_long_conversation_is_continued_whole_and_one_whose_earlier_response_was_deleted_says_which()
    {
        var (_, client) = await NewKeyAsync();
        var ids = new List<string>();
        var inputTokens = new List<long>();
        for (var turn = 0; turn < 6; turn++)
        {
            using var created = await client.PostAsJsonAsync("/v1/responses", turn == 0
                ? new { model = "gpt", input = $"Turn {turn}", previous_response_id = (string?)null }
                : new { model = "gpt", input = $"Turn {turn}", previous_response_id = (string?)ids[^1] });
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            var response = await created.Content.ReadFromJsonAsync<JsonElement>();
            ids.Add(response.GetProperty("id").GetString()!);
            inputTokens.Add(response.GetProperty("usage").GetProperty("input_tokens").GetInt64());
        }

        using var deleted = await client.DeleteAsync($"/v1/responses/{ids[2]}");
        using var broken = await client.PostAsJsonAsync("/v1/responses", new { model = "gpt", input = "Go on", previous_response_id = ids[^1] });

        // Each turn is sent the whole conversation before it: its prompt grows every turn.
        Assert.Equal(inputTokens.Order(), inputTokens);
        Assert.Equal(6, inputTokens.Distinct().Count());
        Assert.Equal(HttpStatusCode.NotFound, broken.StatusCode);
        var error = await Json.ReadErrorAsync(broken);
        Assert.Equal("previous_response_not_found", error.GetProperty("code").GetString());
        Assert.Contains($"'{ids[2]}' was deleted or has expired", error.GetProperty("message").GetString());
    }

    private static string? Cache(HttpResponseMessage response) => response.Headers.TryGetValues("x-agentplatform-cache", out var values) ? values.Single() : null;

    private static string TextOf(JsonElement response) => string.Concat(response.GetProperty("output").EnumerateArray()
        .Where(item => item.GetProperty("type").GetString() == "message")
        .SelectMany(item => item.GetProperty("content").EnumerateArray())
        .Select(part => part.GetProperty("text").GetString()));

    private static async Task<JsonElement> CompletedOfStreamAsync(HttpResponseMessage response)
    {
        var last = (await response.Content.ReadAsStringAsync()).Split('\n').Last(l => l.StartsWith("data: ", StringComparison.Ordinal));
        return JsonDocument.Parse(last[6..]).RootElement.GetProperty("response");
    }
}
