using System.Diagnostics;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Routing;
using AgentPlatform.Api.Usage;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.ServiceDefaults.OpenAI;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Chat;

/// <summary>The OpenAI-compatible public surface: chat completions and the model list.</summary>
public static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("OpenAI");
        // Written straight to the response stream, not through TypedResults: the answer streams from
        // the Router as it arrives, with nothing buffered or re-serialized on the way.
        api.MapPost("/chat/completions", CreateAsync)
            .WithName("CreateChatCompletion")
            .WithSummary("Creates a chat completion (JSON or server-sent events) through the model pool.");
        api.MapGet("/models", ListModelsAsync)
            .WithName("ListModels")
            .WithSummary("Lists the models (model groups) this key may use.");
        api.MapFallback(NotFoundAsync).WithName("UnknownRoute");
        return app;
    }

    private static async Task CreateAsync(
        HttpContext context, ClientAuthenticator authenticator, RequestLimiter limiter, RouterClient router, UsageMeter meter,
        IOptions<ApiOptions> options)
    {
        var started = Stopwatch.GetTimestamp();
        // Every request leaves a usage record, whatever ends it.
        var record = meter.Start(context);
        var forwarded = false;
        try
        {
            if (await authenticator.AuthenticateAsync(context) is not { } client)
            {
                return;
            }
            record.TenantId = client.Tenant?.Id;
            record.KeyId = client.Key?.Id;

            var maxBytes = options.Value.MaxRequestBodyBytes;
            // Kestrel may read past the limit here so that an oversized body can be drained (below).
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            {
                bodySize.MaxRequestBodySize = maxBytes * DrainFactor;
            }
            using var body = await PooledRequestBody.ReadAsync(context.Request, maxBytes, context.RequestAborted);
            if (body is null)
            {
                await DrainAsync(context, maxBytes * DrainFactor);
                await OpenAIError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge,
                    $"The request body is larger than the limit of {maxBytes} bytes.", OpenAIError.InvalidRequest, "request_too_large");
                return;
            }

            var scan = ChatRequestScanner.Scan(body.Span);
            if (!scan.IsValid)
            {
                var (message, param) = ChatRequestScanner.Describe(scan.Problem);
                await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, message, OpenAIError.InvalidRequest, param: param);
                return;
            }
            record.Model = scan.Model;
            record.Stream = scan.Stream;

            if (!client.AllowsModel(scan.Model!))
            {
                await OpenAIError.WriteAsync(context, StatusCodes.Status403Forbidden,
                    $"This key may not use the model '{scan.Model}'.", OpenAIError.Permission, "model_not_allowed", "model");
                return;
            }

            if (await meter.DemandAsync(context, client, scan.Model!, body.Memory, record) is not { } demand)
            {
                return;
            }
            await using var lease = await limiter.AcquireAsync(context, client, demand);
            if (lease is null)
            {
                return;
            }
            forwarded = true;
            var answer = new RouterAnswer();
            try
            {
                await router.ForwardAsync(context, HttpMethod.Post, "/v1/chat/completions", body.Memory, started, answer);
            }
            finally
            {
                // Also when the client left mid-answer: what it got is counted and paid for.
                meter.Measure(record, answer, body.Span);
                await lease.SettleAsync(record.TotalTokens, BudgetPeriod.ToNanoUsd(record.CostUsd));
            }
        }
        finally
        {
            await meter.FinishAsync(context, record, started, forwarded);
        }
    }

    /// <summary>
    /// How much of an oversized body is read and discarded before the 413, as a multiple of the limit.
    /// A client still uploading when the server answers and closes gets a broken pipe instead of
    /// the 413 (seen in CI); draining lets it read the answer. Past this much the connection is
    /// closed rather than reading an unbounded upload.
    /// </summary>
    private const long DrainFactor = 4;

    private static async Task DrainAsync(HttpContext context, long drainBytes)
    {
        if (context.Request.ContentLength > drainBytes)
        {
            return;
        }
        var reader = context.Request.BodyReader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(context.RequestAborted);
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (BadHttpRequestException)
        {
            // Past the drain limit: Kestrel closes the connection after the 413.
        }
    }

    private static async Task ListModelsAsync(HttpContext context, ClientAuthenticator authenticator, RouterClient router)
    {
        var started = Stopwatch.GetTimestamp();
        if (await authenticator.AuthenticateAsync(context) is not { } client)
        {
            return;
        }
        if (!client.RestrictsModels)
        {
            await router.ForwardAsync(context, HttpMethod.Get, "/v1/models", body: null, started);
            return;
        }
        var models = await router.GetModelsAsync(context.RequestAborted);
        await context.Response.WriteAsJsonAsync(new { @object = "list", data = models.Where(m => client.AllowsModel(m.Id)) }, context.RequestAborted);
    }

    private static Task NotFoundAsync(HttpContext context) =>
        OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound,
            $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", OpenAIError.InvalidRequest, "unknown_url");
}
