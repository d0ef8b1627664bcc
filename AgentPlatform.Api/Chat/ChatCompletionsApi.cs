using System.Diagnostics;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Agents;
using AgentPlatform.Api.Pipeline;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Api.Chat;

/// <summary>The OpenAI-compatible public surface: chat completions, embeddings and the model list.</summary>
public static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("OpenAI").RequireAuthorization(AccessPolicies.Client);
        // Written straight to the response stream, not through TypedResults: the answer streams from
        // the Router as it arrives, with nothing buffered or re-serialized on the way.
        api.MapPost("/chat/completions", CreateAsync)
            .WithName("CreateChatCompletion")
            .WithSummary("Creates a chat completion (JSON or server-sent events) through the model pool.");
        api.MapPost("/embeddings", CreateEmbeddingsAsync)
            .WithName("CreateEmbeddings")
            .WithSummary("Creates embeddings through the model pool, from a group of embeddings deployments.");
        api.MapGet("/models", ListModelsAsync)
            .WithName("ListModels")
            .WithSummary("Lists the models (model groups) this key may use.");
        // Unknown routes answer alike with or without a key.
        api.MapFallback(NotFoundAsync).WithName("UnknownRoute").AllowAnonymous();
        return app;
    }

    /// <summary>A chat completion: through the edge pipeline to the pool, or — for an <c>agent:</c> model — to an agent run.</summary>
    private static async Task CreateAsync(HttpContext context, ClientIdentity client, ChatPipeline pipeline, AgentCompletions agents)
    {
        await using var call = pipeline.Start(context, client);
        if (await pipeline.ReadAsync(call) is { } refusal)
        {
            await refusal.ExecuteAsync(context);
            return;
        }
        if (AgentCompletions.IsAgentModel(call.Scan.Model!))
        {
            pipeline.HandOver(call);
            await agents.CreateAsync(context, client, call.Body.Memory, call.Scan);
            return;
        }
        await pipeline.CompleteAsync(call);
    }

    /// <summary>Embeddings: the same stages as a chat completion (limits on input tokens only), to an embeddings group.</summary>
    private static Task CreateEmbeddingsAsync(HttpContext context, ClientIdentity client, ChatPipeline pipeline) =>
        RunWithoutAgentsAsync(context, client, pipeline, ModelApi.Embeddings);

    /// <summary>
    /// A request at a door agents do not answer (embeddings, messages), through every stage; an agent model is
    /// refused with a 400 that names the door that takes it.
    /// </summary>
    internal static async Task RunWithoutAgentsAsync(HttpContext context, ClientIdentity client, ChatPipeline pipeline, ModelApi api)
    {
        await using var call = pipeline.Start(context, client, api);
        if (await ReadWithoutAgentsAsync(call, pipeline))
        {
            await pipeline.CompleteAsync(call);
        }
    }

    /// <summary>Admits, reads and checks a request at a door agents do not answer; false, with the refusal written, when it goes no further.</summary>
    internal static async ValueTask<bool> ReadWithoutAgentsAsync(ChatCall call, ChatPipeline pipeline)
    {
        if (await pipeline.ReadAsync(call) is { } refusal)
        {
            await refusal.ExecuteAsync(call.Context);
            return false;
        }
        if (AgentCompletions.IsAgentModel(call.Scan.Model!))
        {
            await OpenAIErrorResult.BadRequest(
                $"'{call.Scan.Model}' is an agent: agents answer chat completions only (POST /v1/chat/completions).", "model_kind_mismatch", "model")
                .ExecuteAsync(call.Context);
            return false;
        }
        return true;
    }

    private static async Task ListModelsAsync(HttpContext context, ClientIdentity client, RouterClient router)
    {
        var started = Stopwatch.GetTimestamp();
        if (!client.RestrictsModels)
        {
            await router.ForwardAsync(context, HttpMethod.Get, "/v1/models", body: null, started);
            return;
        }
        var models = await router.GetModelsAsync(context.RequestAborted);
        await TypedResults.Ok(new ModelList([.. models.Where(model => client.AllowsModel(model.Id))])).ExecuteAsync(context);
    }

    private static Task NotFoundAsync(HttpContext context) =>
        OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound,
            $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", OpenAIError.InvalidRequest, "unknown_url");
}
