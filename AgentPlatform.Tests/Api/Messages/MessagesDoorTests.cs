using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Messages;

/// <summary>
/// A Redis, two simulators (prompt caching on), a Router and an Api. Groups: <c>claude</c> (sim-a as an
/// Anthropic deployment, priced with a cache-write price), <c>claude-failover</c> (a dead Anthropic
/// deployment, then sim-b), <c>gpt</c> (sim-a as OpenAI), <c>azure-gpt</c> (sim-b as Azure OpenAI), <c>embed</c> (an embeddings deployment).
/// </summary>
public sealed class MessagesFixture : IAsyncLifetime
{
    public const double InputPrice = 1000, CachedInputPrice = 100, CacheWritePrice = 1250, OutputPrice = 2000;

    public TestRedis Redis { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> SimA { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> SimB { get; private set; } = null!;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public KestrelApp<ApiOptions> Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await TestRedis.StartAsync();
        SimA = PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:PromptCaching"] = "true" });
        SimB = PlatformFixture.StartSimulator();
        var claude = RouterSettings.Priced(RouterSettings.Anthropic("sim-a-claude", SimA.BaseAddress), InputPrice, OutputPrice);
        claude.CachedInputPricePerMillion = CachedInputPrice;
        claude.CacheWriteInputPricePerMillion = CacheWritePrice;
        var deadClaude = RouterSettings.Anthropic("down", new Uri($"http://127.0.0.1:{FreePort.Next()}/"));
        Router = new KestrelApp<RouterOptions>(new RouterSettings
        {
            { "ConnectionStrings:cache", Redis.ConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "Router:Timeouts:FirstTokenSeconds", "2" },
            { "Router:Retry:BaseDelayMs", "20" },
            { "claude", new ModelGroupOptions { Deployments = [claude] } },
            { "claude-failover", new ModelGroupOptions { Deployments = [deadClaude, RouterSettings.Anthropic("backup", SimB.BaseAddress, priority: 1)] } },
            { "gpt", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim-a-gpt", SimA.BaseAddress)] } },
            { "azure-gpt", new ModelGroupOptions { Deployments = [RouterSettings.Azure("sim-b-azure", SimB.BaseAddress)] } },
            { "embed", new ModelGroupOptions { Deployments = [RouterSettings.Embeddings(RouterSettings.Deployment("sim-a-embed", SimA.BaseAddress, model: "sim-embedding"))] } },
        }).Start();
        Api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(Redis, Router.BaseAddress)).Start();
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Router.DisposeAsync();
        await SimA.DisposeAsync();
        await SimB.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// <c>POST /v1/messages</c> through the same stages as a chat completion — key (as Anthropic's clients send
/// it), limits, budget, routing with failover, usage record with the cache's writes priced — passed through to
/// Anthropic deployments and translated both ways for OpenAI-compatible ones, with every error in Anthropic's shape.
/// </summary>
public sealed class MessagesDoorTests(MessagesFixture platform) : IClassFixture<MessagesFixture>
{
    private async Task<(string TenantId, string KeyId, HttpClient Client)> NewKeyAsync(object? tenant = null, object? key = null)
    {
        var tenantId = await ApiCalls.CreateTenantAsync(platform.Api, tenant ?? new { name = $"t-{Guid.NewGuid():N}" });
        var (keyId, plaintext) = await ApiCalls.CreateKeyAsync(platform.Api, tenantId, key ?? new { name = "claude-code" });
        var client = platform.Api.CreateClient();
        client.DefaultRequestHeaders.Add("x-api-key", plaintext);
        client.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        return (tenantId, keyId, client);
    }

    private static object Message(string model = "claude", string text = "Hello, Claude", int maxTokens = 64, bool stream = false) =>
        new { model, max_tokens = maxTokens, stream, messages = new[] { new { role = "user", content = text } } };

    private static async Task<JsonElement> ErrorOf(HttpResponseMessage response)
    {
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("error", error.GetProperty("type").GetString());
        return error.GetProperty("error");
    }

    [Fact]
    public async Task A_message_is_answered_in_anthropics_shape_and_recorded_at_its_door_with_the_providers_tokens()
    {
        var (_, keyId, client) = await NewKeyAsync();

        using var response = await client.PostAsJsonAsync("/v1/messages", Message());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var message = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("text", message.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("end_turn", message.GetProperty("stop_reason").GetString());
        var usage = message.GetProperty("usage");
        var (input, output) = (usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64());

        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.Equal("messages", record.GetProperty("door").GetString());
        Assert.Equal("claude", record.GetProperty("model").GetString());
        Assert.Equal("sim-a-claude", record.GetProperty("deployment").GetString());
        Assert.False(record.GetProperty("estimated").GetBoolean());
        Assert.Equal(input, record.GetProperty("promptTokens").GetInt64());
        Assert.Equal(output, record.GetProperty("completionTokens").GetInt64());
        Assert.Equal((input * MessagesFixture.InputPrice + output * MessagesFixture.OutputPrice) / 1_000_000, record.GetProperty("costUsd").GetDouble(), precision: 9);
    }

    [Fact]
    public async Task A_stream_comes_as_anthropics_named_events_and_its_usage_is_recorded_from_them()
    {
        var (_, keyId, client) = await NewKeyAsync();

        using var response = await client.PostAsJsonAsync("/v1/messages", Message(stream: true));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split('\n').Where(line => line.StartsWith("event: ", StringComparison.Ordinal)).Select(line => line["event: ".Length..]).ToList();
        Assert.Equal("message_start", events[0]);
        Assert.Contains("content_block_start", events);
        Assert.Contains("content_block_delta", events);
        Assert.Equal(["message_delta", "message_stop"], events[^2..]);
        Assert.DoesNotContain("agentplatform", text, StringComparison.Ordinal);
        var data = text.Split('\n').Where(line => line.StartsWith("data: ", StringComparison.Ordinal)).Select(line => JsonDocument.Parse(line[6..]).RootElement).ToList();
        var input = data[0].GetProperty("message").GetProperty("usage").GetProperty("input_tokens").GetInt64();
        var output = data.Single(d => d.GetProperty("type").GetString() == "message_delta").GetProperty("usage").GetProperty("output_tokens").GetInt64();

        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.True(record.GetProperty("stream").GetBoolean());
        Assert.False(record.GetProperty("estimated").GetBoolean());
        Assert.Equal(input, record.GetProperty("promptTokens").GetInt64());
        Assert.Equal(output, record.GetProperty("completionTokens").GetInt64());
    }

    [Fact]
    public async Task Prompt_cache_writes_are_priced_at_the_cache_write_price_and_reads_at_the_cached_price()
    {
        var (_, keyId, client) = await NewKeyAsync();
        // Over the simulator's 1,024-token minimum, with a cache breakpoint on the system prompt.
        var system = string.Join(' ', Enumerable.Repeat("policy", 1300)) + $" {Guid.NewGuid():N}";
        var body = new
        {
            model = "claude",
            max_tokens = 16,
            system = new[] { new { type = "text", text = system, cache_control = new { type = "ephemeral" } } },
            messages = new[] { new { role = "user", content = "Summarise the policy." } },
        };

        using var first = await client.PostAsJsonAsync("/v1/messages", body);
        using var second = await client.PostAsJsonAsync("/v1/messages", body);

        var written = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage");
        var read = (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage");
        Assert.True(written.GetProperty("cache_creation_input_tokens").GetInt64() > 1000);
        Assert.True(read.GetProperty("cache_read_input_tokens").GetInt64() > 1000);
        using var admin = ApiCalls.Admin(platform.Api);
        var records = (await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 2)).OrderBy(r => r.GetProperty("time").GetDateTimeOffset()).ToList();
        AssertPriced(records[0], written);
        AssertPriced(records[1], read);

        static void AssertPriced(JsonElement record, JsonElement usage)
        {
            var (input, creation, cacheRead, output) = (usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("cache_creation_input_tokens").GetInt64(),
                usage.GetProperty("cache_read_input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64());
            Assert.Equal(input + creation + cacheRead, record.GetProperty("promptTokens").GetInt64());
            Assert.Equal(cacheRead, record.GetProperty("cachedTokens").GetInt64());
            Assert.Equal(creation, record.GetProperty("cacheWriteTokens").GetInt64());
            var cost = (input * MessagesFixture.InputPrice + creation * MessagesFixture.CacheWritePrice + cacheRead * MessagesFixture.CachedInputPrice
                + output * MessagesFixture.OutputPrice) / 1_000_000;
            Assert.Equal(cost, record.GetProperty("costUsd").GetDouble(), precision: 9);
        }
    }

    [Fact]
    public async Task Every_refusal_is_in_anthropics_error_shape_with_its_status_and_type()
    {
        var (_, _, client) = await NewKeyAsync();
        using var anonymous = platform.Api.CreateClient();
        var (_, _, limited) = await NewKeyAsync(key: new { name = "limited", models = new[] { "gpt" } });

        using var noKey = await anonymous.PostAsJsonAsync("/v1/messages", Message());
        using var noMaxTokens = await client.PostAsJsonAsync("/v1/messages", new { model = "claude", messages = new[] { new { role = "user", content = "hi" } } });
        using var unknown = await client.PostAsJsonAsync("/v1/messages", Message(model: "claude-nonexistent"));
        using var notAllowed = await limited.PostAsJsonAsync("/v1/messages", Message());
        using var embeddings = await client.PostAsJsonAsync("/v1/messages", Message(model: "embed"));
        using var agent = await client.PostAsJsonAsync("/v1/messages", Message(model: "agent:helper"));

        Assert.Equal((HttpStatusCode.Unauthorized, "authentication_error"), (noKey.StatusCode, (await ErrorOf(noKey)).GetProperty("type").GetString()));
        var maxTokensError = await ErrorOf(noMaxTokens);
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_request_error"), (noMaxTokens.StatusCode, maxTokensError.GetProperty("type").GetString()));
        Assert.Contains("max_tokens", maxTokensError.GetProperty("message").GetString());
        Assert.Equal((HttpStatusCode.NotFound, "not_found_error"), (unknown.StatusCode, (await ErrorOf(unknown)).GetProperty("type").GetString()));
        Assert.Equal((HttpStatusCode.Forbidden, "permission_error"), (notAllowed.StatusCode, (await ErrorOf(notAllowed)).GetProperty("type").GetString()));
        Assert.Equal((HttpStatusCode.BadRequest, "model_kind_mismatch"), (embeddings.StatusCode, (await ErrorOf(embeddings)).GetProperty("code").GetString()));
        Assert.Equal((HttpStatusCode.BadRequest, "model_kind_mismatch"), (agent.StatusCode, (await ErrorOf(agent)).GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Limits_and_budgets_refuse_in_anthropics_shape_with_retry_after()
    {
        var (_, _, rated) = await NewKeyAsync(key: new { name = "rpm", rpm = 1 });
        var (_, _, budgeted) = await NewKeyAsync(tenant: new { name = $"budget-{Guid.NewGuid():N}", budgetUsd = 0.01, budgetPeriod = "monthly" });

        using var allowed = await rated.PostAsJsonAsync("/v1/messages", Message());
        using var throttled = await rated.PostAsJsonAsync("/v1/messages", Message());
        // 64 output tokens at $2,000 per million: $0.128 reserved, more than the $0.01 budget.
        using var overBudget = await budgeted.PostAsJsonAsync("/v1/messages", Message());

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal((HttpStatusCode.TooManyRequests, "rate_limit_error"), (throttled.StatusCode, (await ErrorOf(throttled)).GetProperty("type").GetString()));
        Assert.True(throttled.Headers.Contains("Retry-After"));
        Assert.Equal((HttpStatusCode.PaymentRequired, "billing_error"), (overBudget.StatusCode, (await ErrorOf(overBudget)).GetProperty("type").GetString()));
    }

    [Fact]
    public async Task A_deployment_that_fails_before_the_first_byte_is_failed_over_to_the_next()
    {
        var (_, keyId, client) = await NewKeyAsync();

        using var response = await client.PostAsJsonAsync("/v1/messages", Message(model: "claude-failover", stream: true));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: message_stop", await response.Content.ReadAsStringAsync());
        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.Equal("backup", record.GetProperty("deployment").GetString());
    }

    [Theory]
    [InlineData("gpt", "sim-a-gpt", false)]
    [InlineData("gpt", "sim-a-gpt", true)]
    [InlineData("azure-gpt", "sim-b-azure", false)]
    [InlineData("azure-gpt", "sim-b-azure", true)]
    public async Task An_openai_or_azure_deployment_answers_a_message_translated_both_ways_with_its_usage(string model, string deployment, bool stream)
    {
        var (_, keyId, client) = await NewKeyAsync();

        using var response = await client.PostAsJsonAsync("/v1/messages", new
        {
            model,
            max_tokens = 64,
            stream,
            system = new[] { new { type = "text", text = "Be brief.", cache_control = new { type = "ephemeral" } } },
            messages = new object[] { new { role = "user", content = new[] { new { type = "text", text = "Hello there" } } } },
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (text, stopReason, input, output) = stream ? await ReadStreamAsync(response) : await ReadMessageAsync(response);
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal("end_turn", stopReason);
        Assert.Equal(text.Split(' ').Length, output);
        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.Equal(("messages", deployment, false), (record.GetProperty("door").GetString(), record.GetProperty("deployment").GetString(), record.GetProperty("estimated").GetBoolean()));
        Assert.Equal(input, record.GetProperty("promptTokens").GetInt64());
        Assert.Equal(output, record.GetProperty("completionTokens").GetInt64());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_tool_use_round_trip_through_an_openai_deployment_keeps_the_call_and_its_result(bool stream)
    {
        var (_, _, client) = await NewKeyAsync();
        var tools = new[] { new { name = "get_weather", description = "The weather in a city.", input_schema = new { type = "object", properties = new { city = new { type = "string" } }, required = new[] { "city" } } } };
        var question = new { role = "user", content = (object)"What is the weather in Paris? Use get_weather." };

        using var call = await client.PostAsJsonAsync("/v1/messages", new { model = "gpt", max_tokens = 128, stream, tools, messages = new[] { question } });

        Assert.Equal(HttpStatusCode.OK, call.StatusCode);
        var toolUse = stream ? ToolUseOfStream(await call.Content.ReadAsStringAsync()) : ToolUseOf(await call.Content.ReadFromJsonAsync<JsonElement>());
        Assert.Equal("get_weather", toolUse.GetProperty("name").GetString());
        Assert.Equal("sim", toolUse.GetProperty("input").GetProperty("city").GetString());
        var id = toolUse.GetProperty("id").GetString();
        using var answer = await client.PostAsJsonAsync("/v1/messages", new
        {
            model = "gpt",
            max_tokens = 128,
            tools,
            messages = new object[]
            {
                question,
                new { role = "assistant", content = new object[] { new { type = "tool_use", id, name = "get_weather", input = new { city = "sim" } } } },
                new { role = "user", content = new object[] { new { type = "tool_result", tool_use_id = id, content = "Sunny, 21 °C" } } },
            },
        });
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var message = await answer.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("end_turn", message.GetProperty("stop_reason").GetString());
        Assert.Equal("text", message.GetProperty("content")[0].GetProperty("type").GetString());

        static JsonElement ToolUseOf(JsonElement message)
        {
            Assert.Equal("tool_use", message.GetProperty("stop_reason").GetString());
            return message.GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_use");
        }

        static JsonElement ToolUseOfStream(string events)
        {
            var data = DataOf(events);
            var start = data.Single(d => d.GetProperty("type").GetString() == "content_block_start" && d.GetProperty("content_block").GetProperty("type").GetString() == "tool_use");
            var json = string.Concat(data.Where(d => d.GetProperty("type").GetString() == "content_block_delta" && d.GetProperty("index").GetInt32() == start.GetProperty("index").GetInt32())
                .Select(d => d.GetProperty("delta").GetProperty("partial_json").GetString()));
            Assert.Equal("tool_use", data.Single(d => d.GetProperty("type").GetString() == "message_delta").GetProperty("delta").GetProperty("stop_reason").GetString());
            var block = start.GetProperty("content_block");
            return JsonSerializer.SerializeToElement(new { name = block.GetProperty("name").GetString(), id = block.GetProperty("id").GetString(), input = JsonDocument.Parse(json).RootElement });
        }
    }

    [Fact]
    public async Task What_an_openai_deployment_cannot_express_is_refused_by_name()
    {
        var (_, _, client) = await NewKeyAsync();

        using var document = await client.PostAsJsonAsync("/v1/messages", new
        {
            model = "gpt",
            max_tokens = 16,
            messages = new[] { new { role = "user", content = new object[] { new { type = "document", source = new { type = "text", media_type = "text/plain", data = "a contract" } } } } },
        });

        var documentError = await ErrorOf(document);
        Assert.Equal((HttpStatusCode.BadRequest, "unsupported_by_provider"), (document.StatusCode, documentError.GetProperty("code").GetString()));
        Assert.Contains("'document'", documentError.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("claude", """{"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]}""")]
    [InlineData("gpt", """{"tools":[{"name":"lookup","input_schema":{"type":"object"}},{"type":"code_execution_20250522","name":"code_execution"}]}""")]
    [InlineData("claude", """{"mcp_servers":[{"type":"url","url":"https://example.com/mcp","name":"x"}]}""")]
    public async Task Server_tools_are_refused_at_every_deployment_because_no_budget_can_hold_their_cost(string model, string extra)
    {
        var (_, keyId, client) = await NewKeyAsync();
        var body = JsonNode.Parse(extra)!.AsObject();
        body["model"] = model;
        body["max_tokens"] = 16;
        body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Search the web" });

        using var refused = await client.PostAsync("/v1/messages", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = await ErrorOf(refused);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.StartsWith("Server tools", error.GetProperty("message").GetString());
        using var admin = ApiCalls.Admin(platform.Api);
        Assert.Equal("refused", Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1)).GetProperty("outcome").GetString());
    }

    [Theory]
    [InlineData("claude", false)]
    [InlineData("claude", true)]
    [InlineData("gpt", false)]
    [InlineData("gpt", true)]
    public async Task A_cached_message_is_replayed_on_anthropics_wire_as_json_and_as_a_stream_whichever_filled_it(string model, bool filledByStream)
    {
        var (_, keyId, client) = await NewKeyAsync(key: new { name = "cached", cacheEnabled = true });
        var text = $"Cache me {Guid.NewGuid():N}";

        using var fill = await client.PostAsJsonAsync("/v1/messages", Message(model, text, stream: filledByStream));
        var filled = filledByStream ? await ReadStreamAsync(fill) : await ReadMessageAsync(fill);
        using var asJson = await client.PostAsJsonAsync("/v1/messages", Message(model, text));
        using var asStream = await client.PostAsJsonAsync("/v1/messages", Message(model, text, stream: true));

        Assert.Equal("hit", asJson.Headers.GetValues("x-agentplatform-cache").Single());
        Assert.Equal("hit", asStream.Headers.GetValues("x-agentplatform-cache").Single());
        Assert.Equal(filled, await ReadMessageAsync(asJson));
        Assert.Equal(filled, await ReadStreamAsync(asStream));
        using var admin = ApiCalls.Admin(platform.Api);
        var records = await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 3);
        Assert.Equal(["hit", "hit", "miss"], records.Select(r => r.GetProperty("cache").GetString()).Order());
        Assert.All(records, r => Assert.Equal("messages", r.GetProperty("door").GetString()));
    }

    [Fact]
    public async Task A_body_valid_at_both_chat_doors_never_gets_the_other_doors_cached_answer()
    {
        var (_, _, client) = await NewKeyAsync(key: new { name = "cached-both", cacheEnabled = true });
        var body = Message("gpt", $"Both doors {Guid.NewGuid():N}");

        using var message = await client.PostAsJsonAsync("/v1/messages", body);
        using var chat = await client.PostAsJsonAsync("/v1/chat/completions", body);

        Assert.Equal("miss", message.Headers.GetValues("x-agentplatform-cache").Single());
        Assert.Equal("miss", chat.Headers.GetValues("x-agentplatform-cache").Single());
        Assert.Equal("chat.completion", (await chat.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("object").GetString());
    }

    private static async Task<(string Text, string? StopReason, long Input, long Output)> ReadMessageAsync(HttpResponseMessage response)
    {
        var message = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("message", message.GetProperty("type").GetString());
        var usage = message.GetProperty("usage");
        return (message.GetProperty("content")[0].GetProperty("text").GetString()!, message.GetProperty("stop_reason").GetString(),
            usage.GetProperty("input_tokens").GetInt64() + usage.GetProperty("cache_read_input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64());
    }

    private static async Task<(string Text, string? StopReason, long Input, long Output)> ReadStreamAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split('\n').Where(line => line.StartsWith("event: ", StringComparison.Ordinal)).Select(line => line["event: ".Length..]).ToList();
        Assert.Equal(["message_start", "content_block_start"], events[..2]);
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], events[^3..]);
        var data = DataOf(text);
        var delta = data.Single(d => d.GetProperty("type").GetString() == "message_delta");
        // The input's usage comes in message_start (Anthropic) or, known only at the end, in message_delta (translated).
        var usage = delta.GetProperty("usage");
        var input = usage.TryGetProperty("input_tokens", out _) ? usage : data[0].GetProperty("message").GetProperty("usage");
        return (string.Concat(data.Where(d => d.GetProperty("type").GetString() == "content_block_delta").Select(d => d.GetProperty("delta").GetProperty("text").GetString())),
            delta.GetProperty("delta").GetProperty("stop_reason").GetString(),
            input.GetProperty("input_tokens").GetInt64() + input.GetProperty("cache_read_input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64());
    }

    private static List<JsonElement> DataOf(string events) =>
        [.. events.Split('\n').Where(line => line.StartsWith("data: ", StringComparison.Ordinal)).Select(line => JsonDocument.Parse(line[6..]).RootElement)];

    [Fact]
    public async Task Counting_tokens_calls_no_model_and_counts_what_a_message_would_reserve()
    {
        var (_, keyId, client) = await NewKeyAsync();
        var body = new { model = "claude", system = "You are terse.", messages = new[] { new { role = "user", content = "Count these words for me please" } } };

        using var counted = await client.PostAsJsonAsync("/v1/messages/count_tokens", body);
        using var unknown = await client.PostAsJsonAsync("/v1/messages/count_tokens", new { model = "nope", messages = Array.Empty<object>() });

        Assert.Equal(HttpStatusCode.OK, counted.StatusCode);
        var tokens = (await counted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("input_tokens").GetInt32();
        // The estimator's count: 3 to prime the reply, 3 per turn (the system prompt is one), and the words.
        Assert.Equal(3 + 3 + 4 + 3 + 6, tokens);
        Assert.Equal((HttpStatusCode.NotFound, "not_found_error"), (unknown.StatusCode, (await ErrorOf(unknown)).GetProperty("type").GetString()));
        using var admin = ApiCalls.Admin(platform.Api);
        Assert.Empty(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 0));
    }

    [Fact]
    public async Task Counting_tokens_takes_the_keys_requests_per_minute_so_no_client_can_make_the_api_tokenize_without_bound()
    {
        var (_, _, client) = await NewKeyAsync(key: new { name = "counter", rpm = 3 });
        var body = new { model = "claude", messages = new[] { new { role = "user", content = "Count me" } } };

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var counted = await client.PostAsJsonAsync("/v1/messages/count_tokens", body);
            statuses.Add(counted.StatusCode);
            if (counted.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal("rate_limit_error", (await ErrorOf(counted)).GetProperty("type").GetString());
                Assert.True(counted.Headers.RetryAfter is not null);
            }
        }
        using var message = await client.PostAsJsonAsync("/v1/messages", Message("claude", "And a message"));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.TooManyRequests, message.StatusCode);
    }

    [Fact]
    public async Task The_model_list_says_which_groups_answer_at_the_messages_door()
    {
        var (_, _, client) = await NewKeyAsync();

        var models = (await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data").EnumerateArray()
            .ToDictionary(m => m.GetProperty("id").GetString()!, m => m.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()!).ToArray());

        Assert.Equal(["/v1/chat/completions", "/v1/messages", "/v1/responses"], models["claude"]);
        Assert.Equal(["/v1/chat/completions", "/v1/messages", "/v1/responses"], models["gpt"]);
        Assert.Equal(["/v1/embeddings"], models["embed"]);
    }
}
