using System.Text.Json;
using AgentPlatform.Api.Admin;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// <c>/admin/v1/agents</c>: agent definitions — create, replace, read, list, delete — where every change
/// is a new version and every version stays readable.
/// </summary>
public static class AgentsAdminApi
{
    private const int MaxBodyBytes = 256 * 1024;

    public static RouteGroupBuilder MapAgentsAdminApi(this RouteGroupBuilder admin)
    {
        var agents = admin.MapGroup("/agents");
        agents.MapGet("", async (AgentStore store) => AdminApi.List(await store.ListAsync())).WithName("ListAgents");
        agents.MapPost("", CreateAsync).WithName("CreateAgent").WithSummary("Creates an agent (409 if the name is taken); version 1.");
        agents.MapGet("/{name}", GetAsync).WithName("GetAgent");
        agents.MapPut("/{name}", PutAsync).WithName("PutAgent").WithSummary("Creates or replaces the agent: a new version every time.");
        agents.MapDelete("/{name}", DeleteAsync).WithName("DeleteAgent").WithSummary("Removes the agent; its versions stay readable.");
        agents.MapGet("/{name}/versions", VersionsAsync).WithName("ListAgentVersions").WithSummary("Every version of the agent, newest first.");
        agents.MapGet("/{name}/versions/{version:int}", VersionAsync).WithName("GetAgentVersion");
        return admin;
    }

    private static async Task CreateAsync(HttpContext context, AgentStore store, TenancyStore tenancy)
    {
        if (await ReadAsync(context, tenancy, nameFromUrl: null) is not { } definition)
        {
            return;
        }
        if (await store.GetAsync(definition.Name) is not null)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status409Conflict,
                $"An agent named '{definition.Name}' exists already: PUT /admin/v1/agents/{definition.Name} to change it.", OpenAIError.InvalidRequest, "agent_exists", "name");
            return;
        }
        await WriteAsync(context, StatusCodes.Status201Created, await store.SaveAsync(definition));
    }

    private static async Task PutAsync(HttpContext context, AgentStore store, TenancyStore tenancy, string name)
    {
        if (await ReadAsync(context, tenancy, nameFromUrl: name) is not { } definition)
        {
            return;
        }
        var created = await store.GetAsync(name) is null;
        await WriteAsync(context, created ? StatusCodes.Status201Created : StatusCodes.Status200OK, await store.SaveAsync(definition));
    }

    private static async Task GetAsync(HttpContext context, AgentStore store, string name)
    {
        if (await store.GetAsync(name) is { } definition)
        {
            await WriteAsync(context, StatusCodes.Status200OK, definition);
            return;
        }
        await NotFoundAsync(context, name);
    }

    private static async Task DeleteAsync(HttpContext context, AgentStore store, string name)
    {
        if (await store.DeleteAsync(name))
        {
            await WriteAsync(context, StatusCodes.Status200OK, new { name, deleted = true });
            return;
        }
        await NotFoundAsync(context, name);
    }

    private static async Task VersionsAsync(HttpContext context, AgentStore store, string name)
    {
        var versions = await store.ListVersionsAsync(name);
        if (versions.Count == 0)
        {
            await NotFoundAsync(context, name);
            return;
        }
        await WriteAsync(context, StatusCodes.Status200OK, AdminApi.List(versions).Value!);
    }

    private static async Task VersionAsync(HttpContext context, AgentStore store, string name, int version)
    {
        if (await store.GetVersionAsync(name, version) is { } definition)
        {
            await WriteAsync(context, StatusCodes.Status200OK, definition);
            return;
        }
        await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound,
            $"Agent '{name}' has no version {version}.", OpenAIError.NotFound, "agent_version_not_found");
    }

    /// <summary>The body as a definition, or null after answering 400 with every problem found.</summary>
    private static async Task<AgentDefinition?> ReadAsync(HttpContext context, TenancyStore tenancy, string? nameFromUrl)
    {
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxBodyBytes, context.RequestAborted);
        var problems = new List<string>();
        AgentDefinition? definition = null;
        if (body is null)
        {
            problems.Add($"The request body is larger than {MaxBodyBytes} bytes.");
        }
        else
        {
            try
            {
                definition = JsonSerializer.Deserialize<AgentDefinition>(body.Span, AgentDefinition.Json);
            }
            catch (JsonException exception)
            {
                problems.Add($"The body is not an agent definition: {exception.Message}");
            }
        }
        if (definition is null && problems.Count == 0)
        {
            problems.Add("The body must be a JSON object: {\"instructions\": \"...\", \"model\": \"default\"}.");
        }
        if (definition is not null)
        {
            if (nameFromUrl is not null)
            {
                if (!string.IsNullOrEmpty(definition.Name) && definition.Name != nameFromUrl)
                {
                    problems.Add($"The body's name '{definition.Name}' is not the URL's '{nameFromUrl}'.");
                }
                definition = definition with { Name = nameFromUrl };
            }
            // Version and time are the store's to set; lists left null become empty.
            definition = definition with { Version = 0, UpdatedAt = default, Tools = definition.Tools ?? [], TenantIds = definition.TenantIds ?? [] };
            problems.AddRange(definition.Problems());
            var hosts = context.RequestServices.GetRequiredService<McpHostPolicy>();
            foreach (var (tool, index) in definition.Tools.Select((t, i) => (t, i)))
            {
                if (Uri.TryCreate(tool.McpServerUrl, UriKind.Absolute, out var url) && hosts.Refuses(url) is { } refusal)
                {
                    problems.Add($"tools[{index}].mcpServerUrl may not be used: {refusal}.");
                }
            }
            foreach (var tenantId in definition.TenantIds.Distinct(StringComparer.Ordinal))
            {
                if (await tenancy.GetTenantAsync(tenantId) is null)
                {
                    problems.Add($"tenantIds: no tenant has the id '{tenantId}'.");
                }
            }
        }
        if (problems.Count > 0)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, string.Join(" ", problems), OpenAIError.InvalidRequest, "invalid_agent");
            return null;
        }
        return definition;
    }

    private static Task NotFoundAsync(HttpContext context, string name) =>
        OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound, $"No agent is named '{name}'.", OpenAIError.NotFound, "agent_not_found");

    private static Task WriteAsync(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(value, value.GetType(), AgentDefinition.Json, context.RequestAborted);
    }
}
