using System.Net;
using System.Text;
using System.Text.Json;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Chat;

[Collection(PlatformCollection.Name)]
public sealed class ChatCompletionsApiTests(PlatformFixture platform)
{
    [Fact]
    public async Task Completion_is_answered_through_the_router_with_the_platform_headers()
    {
        using var client = platform.CreateApiClient();

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await Json.ReadAsync(response);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var content = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        Assert.Equal(8, content!.Split(' ').Length);
        Assert.Equal(8, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Contains(response.Headers.GetValues("x-agentplatform-deployment").Single(), new[] { "sim-a", "sim-b" });
        Assert.StartsWith("req_", response.Headers.GetValues("x-request-id").Single());
        Assert.True(double.Parse(response.Headers.GetValues("x-agentplatform-overhead-ms").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 0);
        Assert.Equal("bypass", response.Headers.GetValues("x-agentplatform-cache").Single());
    }

    [Fact]
    public async Task Stream_arrives_as_server_sent_events_with_usage_and_done()
    {
        using var client = platform.CreateApiClient();

        using var response = await client.PostAsync("/v1/chat/completions",
            Json.Chat(stream: true, extra: ""","stream_options":{"include_usage":true}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Json.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        var text = string.Concat(chunks
            .Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Select(d => d.TryGetProperty("content", out var t) ? t.GetString() : ""));
        var usage = chunks[^1].GetProperty("usage");
        Assert.Equal(text.Split(' ').Length, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Models_lists_the_model_groups()
    {
        using var client = platform.CreateApiClient();

        using var response = await client.GetAsync("/v1/models");

        var body = await Json.ReadAsync(response);
        Assert.Equal("list", body.GetProperty("object").GetString());
        var ids = body.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
        Assert.Equal(["dead", "default", "recorded", PlatformFixture.SkippingGroup, "tiered"], ids.Order());
    }

    [Theory]
    [InlineData(null, "missing_api_key")]
    [InlineData("Bearer wrong-key", "invalid_api_key")]
    [InlineData("Basic dGVzdDp0ZXN0", "invalid_api_key")]
    [InlineData("Bearer ", "invalid_api_key")]
    public async Task Missing_or_wrong_key_is_refused_with_401(string? authorization, string code)
    {
        using var client = platform.Api.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json.Chat() };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var error = await Json.ReadErrorAsync(response);
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal("authentication_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Models_needs_a_key_too()
    {
        using var client = platform.Api.CreateHttpClient();

        using var response = await client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await Json.ReadErrorAsync(response);
    }

    [Theory]
    [InlineData("{not json", null)]
    [InlineData("[1,2]", null)]
    [InlineData("""{"model":"default","messages":[]} trailing""", null)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":42,"messages":[]}""", "model")]
    [InlineData("""{"model":"","messages":[]}""", "model")]
    [InlineData("""{"model":"default"}""", "messages")]
    [InlineData("""{"model":"default","messages":"hi"}""", "messages")]
    [InlineData("""{"model":"default","messages":[],"stream":"yes"}""", "stream")]
    [InlineData("", null)]
    public async Task Malformed_body_is_refused_with_400_naming_the_parameter(string body, string? param)
    {
        using var client = platform.CreateApiClient();

        using var response = await client.PostAsync("/v1/chat/completions", Json.Body(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await Json.ReadErrorAsync(response);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Unknown_model_is_404_model_not_found()
    {
        using var client = platform.CreateApiClient();

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "gpt-nonexistent"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = await Json.ReadErrorAsync(response);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Contains("gpt-nonexistent", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Body_over_the_limit_is_413_whether_its_length_is_declared_or_not()
    {
        using var client = platform.CreateApiClient();
        var padding = new string('x', (int)PlatformFixture.MaxRequestBodyBytes);
        var json = $$"""{"model":"default","messages":[{"role":"user","content":"{{padding}}"}]}""";

        using var declared = await client.PostAsync("/v1/chat/completions", Json.Body(json));
        using var chunked = await client.PostAsync("/v1/chat/completions",
            new StreamContent(new ChunkedOnlyStream(Encoding.UTF8.GetBytes(json))) { Headers = { ContentType = new("application/json") } });

        foreach (var response in new[] { declared, chunked })
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            await Json.ReadErrorAsync(response);
        }
    }

    [Fact]
    public async Task A_body_trickled_slower_than_the_minimum_data_rate_is_cut_off()
    {
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(platform.Api.BaseAddress.Host, platform.Api.BaseAddress.Port);
        var stream = socket.GetStream();
        var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {PlatformFixture.MasterKey}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        // A byte a second, far under Kestrel's 240 bytes/s once its 5-second grace is over: it gives up on the body.
        var cut = false;
        while (!cut && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                await stream.WriteAsync(" "u8.ToArray());
                await Task.Delay(1000);
                cut = socket.Client.Poll(0, System.Net.Sockets.SelectMode.SelectRead); // an answer or the close
            }
            catch (IOException)
            {
                cut = true;
            }
        }

        Assert.True(cut, "the slow body was still being read after 30 s");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Unknown_url_is_an_openai_404()
    {
        using var client = platform.CreateApiClient();

        using var response = await client.GetAsync("/v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await Json.ReadErrorAsync(response);
    }

    [Fact]
    public async Task Router_unreachable_is_503_and_the_api_is_not_ready()
    {
        await using var orphan = platform.StartApi(new Uri($"http://127.0.0.1:{FreePort.Next()}"));
        using var client = orphan.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", PlatformFixture.MasterKey);

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat());
        using var health = await client.GetAsync("/health");
        using var alive = await client.GetAsync("/alive");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("router_unavailable", (await Json.ReadErrorAsync(response)).GetProperty("code").GetString());
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        var router = (await Json.ReadAsync(health)).GetProperty("checks").GetProperty("router");
        Assert.Equal("Unhealthy", router.GetProperty("status").GetString());
        // Anyone may ask: healthy or not per check, never why (no description, no exception, no address).
        Assert.Equal(["status"], router.EnumerateObject().Select(p => p.Name));
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    [Fact]
    public async Task Every_deployment_down_is_502_naming_the_failure()
    {
        using var client = platform.CreateApiClient();

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "dead"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = await Json.ReadErrorAsync(response);
        Assert.Equal("upstream_unavailable", error.GetProperty("code").GetString());
        Assert.Contains("nobody", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Health_reports_redis_and_router()
    {
        using var client = platform.Api.CreateHttpClient();

        using var response = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var checks = (await Json.ReadAsync(response)).GetProperty("checks");
        Assert.Equal("Healthy", checks.GetProperty("router").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("StackExchange.Redis").GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("my-trace_id.42:a", true)]
    [InlineData("has space", false)]
    [InlineData("semi;colon", false)]
    [InlineData("too-long-id-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false)]
    public async Task Client_request_id_is_kept_only_when_valid(string requestId, bool kept)
    {
        using var client = platform.CreateApiClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json.Chat() };
        request.Headers.TryAddWithoutValidation("x-request-id", requestId);

        using var response = await client.SendAsync(request);

        var returned = response.Headers.GetValues("x-request-id").Single();
        Assert.Equal(kept, returned == requestId);
        Assert.True(kept || returned.StartsWith("req_", StringComparison.Ordinal));
    }

    /// <summary>A body stream of unknown length, so HttpClient sends it chunked without Content-Length.</summary>
    private sealed class ChunkedOnlyStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
