#include "scan/catalogue.h"

#include <cassert>

#include "scan/json_access.h"

namespace srexpert::scan {

namespace {

constexpr std::string_view kPodsAndTemplates =
    "Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, "
    "ReplicationControllers, Jobs, CronJobs and PodTemplates";

// NSA/CISA Kubernetes Hardening Guide (v1.2) sections.
constexpr std::string_view kNsaPodSecurity = "Kubernetes Pod security: Pod security enforcement";
constexpr std::string_view kNsaNonRoot =
    "Kubernetes Pod security: Non-root containers and \"rootless\" container engines";
constexpr std::string_view kNsaImmutable = "Kubernetes Pod security: Immutable container file systems";
constexpr std::string_view kNsaHardening =
    "Kubernetes Pod security: Hardening container environments";
constexpr std::string_view kNsaImages = "Kubernetes Pod security: Building secure container images";
constexpr std::string_view kNsaTokens =
    "Kubernetes Pod security: Protecting Pod service account tokens";
constexpr std::string_view kNsaNetworkPolicies = "Network separation and hardening: Network policies";
constexpr std::string_view kNsaResources = "Network separation and hardening: Resource policies";
constexpr std::string_view kNsaSecrets = "Network separation and hardening: Secrets";
constexpr std::string_view kNsaEncryption = "Network separation and hardening: Encryption";
constexpr std::string_view kNsaRbac = "Authentication and authorization: Role-based access control";
constexpr std::string_view kNsaAuthn = "Authentication and authorization: Authentication";

std::vector<CheckInfo> Build() {
  using C = Category;
  using S = Severity;
  std::vector<CheckInfo> v = {
      // ---- Pod Security Standards -------------------------------------------------
      {"pss-host-process", "Windows HostProcess containers", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "A Windows HostProcess container runs as a process on the node with the node's "
       "privileges and network; it is outside every container boundary. The baseline Pod "
       "Security Standard forbids it.",
       "Remove securityContext.windowsOptions.hostProcess (or set it to false) on the pod and "
       "on every container.",
       {"", "HostProcess", "baseline", "5.2.11", kNsaPodSecurity},
       "No HostProcess container", "Pod or containers set windowsOptions.hostProcess=true"},
      {"pss-host-namespaces", "Host namespaces", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "Sharing the node's network, PID or IPC namespace lets a pod see and reach the node's "
       "processes, traffic and shared memory. The baseline Pod Security Standard forbids all "
       "three.",
       "Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).",
       {"", "Host Namespaces", "baseline", "5.2.3, 5.2.4, 5.2.5", kNsaPodSecurity},
       "No host namespace is shared", "The pod shares host namespaces"},
      {"pss-privileged", "Privileged containers", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "A privileged container has every capability and device of the node and no seccomp or "
       "AppArmor confinement: it is root on the node. The baseline Pod Security Standard "
       "forbids it.",
       "Remove securityContext.privileged (or set it to false) on every container, init "
       "container and ephemeral container.",
       {"", "Privileged Containers", "baseline", "5.2.2", kNsaPodSecurity},
       "No privileged container", "A container is privileged"},
      {"pss-capabilities-baseline", "Added capabilities (baseline)", C::kSecurity, S::kDanger,
       Scope::kPod, kPodsAndTemplates,
       "Capabilities beyond the container runtime's default set (NET_RAW, SYS_ADMIN, ...) "
       "hand out parts of root's power. The baseline Pod Security Standard allows adding only "
       "AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, "
       "SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT.",
       "Remove every other capability from securityContext.capabilities.add.",
       {"", "Capabilities", "baseline", "5.2.8, 5.2.9", kNsaPodSecurity},
       "No capability beyond the default set is added", "Containers add non-default capabilities"},
      {"pss-host-path-volumes", "HostPath volumes", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "A hostPath volume mounts a directory of the node into the pod: the node's credentials, "
       "the container runtime socket or /etc are one mount away. The baseline Pod Security "
       "Standard forbids it.",
       "Replace hostPath volumes with emptyDir, configMap, secret, projected or persistent "
       "volumes.",
       {"", "HostPath Volumes", "baseline", "5.2.12", kNsaPodSecurity},
       "No hostPath volume", "The pod mounts hostPath volumes"},
      {"pss-host-ports", "Host ports", C::kSecurity, S::kDanger, Scope::kPod, kPodsAndTemplates,
       "A hostPort binds a port on the node's own address, bypassing Services and network "
       "policies and limiting scheduling. The baseline Pod Security Standard forbids it.",
       "Remove hostPort from every container port (or set it to 0); expose the pod through a "
       "Service.",
       {"", "Host Ports", "baseline", "5.2.13", kNsaPodSecurity},
       "No hostPort", "Containers use hostPorts"},
      {"pss-host-probes", "Host probes and lifecycle hooks", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "A probe or lifecycle hook with a host field makes the kubelet connect to an arbitrary "
       "address from the node, which can reach services only the node may reach. The baseline "
       "Pod Security Standard forbids it from policy version v1.34.",
       "Remove httpGet.host and tcpSocket.host from liveness, readiness and startup probes and "
       "from postStart/preStop hooks.",
       {"", "Host Probes / Lifecycle Hooks", "baseline", "", kNsaPodSecurity},
       "No probe or lifecycle hook sets a host", "Probes or lifecycle hooks set a host"},
      {"pss-apparmor", "AppArmor profile", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "The runtime's default AppArmor profile confines containers on nodes that support it; "
       "an Unconfined profile removes that confinement. The baseline Pod Security Standard "
       "allows only the runtime default and localhost profiles.",
       "Remove container.apparmor.security.beta.kubernetes.io/* annotations and "
       "securityContext.appArmorProfile entries that select unconfined (use RuntimeDefault or "
       "Localhost).",
       {"", "AppArmor", "baseline", "", kNsaHardening},
       "No unconfined AppArmor profile", "An AppArmor profile is overridden"},
      {"pss-selinux", "SELinux options", C::kSecurity, S::kDanger, Scope::kPod, kPodsAndTemplates,
       "A custom SELinux user, role or type can lift the container out of its SELinux "
       "confinement. The baseline Pod Security Standard allows only the container_t family of "
       "types and no user or role.",
       "Remove seLinuxOptions.user and .role; use no type or container_t, container_init_t, "
       "container_kvm_t (container_engine_t from v1.31).",
       {"", "SELinux", "baseline", "", kNsaHardening},
       "No forbidden SELinux option", "Forbidden SELinux options are set"},
      {"pss-proc-mount", "/proc mount type", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "The default /proc mask hides kernel interfaces from containers; an Unmasked /proc "
       "exposes them. The baseline Pod Security Standard requires the default.",
       "Remove securityContext.procMount or set it to Default.",
       {"", "/proc Mount Type", "baseline", "", kNsaHardening},
       "The default /proc mask is kept", "A container unmasks /proc"},
      {"pss-seccomp-baseline", "Seccomp not unconfined", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "Seccomp filters the system calls a container may make; Unconfined switches the filter "
       "off. The baseline Pod Security Standard forbids an explicit Unconfined profile (before "
       "v1.19: the unconfined seccomp annotations).",
       "Remove seccompProfile type Unconfined from the pod and containers (and the "
       "seccomp.security.alpha.kubernetes.io annotations that select unconfined).",
       {"", "Seccomp", "baseline", "5.7.2", kNsaHardening},
       "No unconfined seccomp profile", "A seccomp profile is Unconfined"},
      {"pss-sysctls", "Unsafe sysctls", C::kSecurity, S::kDanger, Scope::kPod, kPodsAndTemplates,
       "Sysctls outside the safe, namespaced set change kernel settings for the whole node. "
       "The baseline Pod Security Standard allows only the safe set of the policy version.",
       "Remove every sysctl outside the safe set from spec.securityContext.sysctls.",
       {"", "Sysctls", "baseline", "", kNsaHardening},
       "Only safe sysctls", "Forbidden sysctls are set"},
      {"pss-volume-types", "Restricted volume types", C::kSecurity, S::kWarning, Scope::kPod,
       kPodsAndTemplates,
       "Volume types other than configMap, csi, downwardAPI, emptyDir, ephemeral, image, "
       "persistentVolumeClaim, projected and secret mount storage directly, outside "
       "PersistentVolumes' access control. The restricted Pod Security Standard forbids them.",
       "Use a PersistentVolumeClaim (or one of the allowed types) instead of inline volume "
       "sources such as nfs, hostPath or iscsi.",
       {"", "Volume Types", "restricted", "", kNsaPodSecurity},
       "Only allowed volume types", "The pod uses restricted volume types"},
      {"pss-privilege-escalation", "Privilege escalation", C::kSecurity, S::kWarning, Scope::kPod,
       kPodsAndTemplates,
       "Without allowPrivilegeEscalation: false a process can gain privileges through setuid "
       "binaries or file capabilities. The restricted Pod Security Standard requires false on "
       "every container (Windows pods are exempt from v1.25).",
       "Set securityContext.allowPrivilegeEscalation: false on every container, init container "
       "and ephemeral container.",
       {"", "Privilege Escalation", "restricted", "5.2.6", kNsaPodSecurity},
       "Privilege escalation is disabled", "Containers allow privilege escalation"},
      {"pss-run-as-non-root", "Running as non-root", C::kSecurity, S::kWarning, Scope::kPod,
       kPodsAndTemplates,
       "A container running as root is one kernel or runtime bug away from root on the node. "
       "The restricted Pod Security Standard requires runAsNonRoot: true on the pod or on every "
       "container.",
       "Set securityContext.runAsNonRoot: true on the pod (or on every container) and run the "
       "image as a non-zero user.",
       {"", "Running as Non-root", "restricted", "5.2.7", kNsaNonRoot},
       "Runs as non-root", "Runs (or may run) as root"},
      {"pss-run-as-user", "Running as non-root user", C::kSecurity, S::kWarning, Scope::kPod,
       kPodsAndTemplates,
       "runAsUser: 0 runs the process as root whatever the image says. The restricted Pod "
       "Security Standard forbids it from policy version v1.23.",
       "Remove runAsUser: 0 from the pod and containers; use a non-zero user id.",
       {"", "Running as Non-root user", "restricted", "5.2.7", kNsaNonRoot},
       "No runAsUser 0", "runAsUser is 0"},
      {"pss-seccomp-restricted", "Seccomp profile required", C::kSecurity, S::kWarning,
       Scope::kPod, kPodsAndTemplates,
       "Without a seccomp profile a container may make any system call the kernel offers. The "
       "restricted Pod Security Standard requires RuntimeDefault or Localhost on the pod or "
       "every container (Windows pods are exempt from v1.25).",
       "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
       {"", "Seccomp", "restricted", "5.7.2", kNsaHardening},
       "A seccomp profile confines every container", "Seccomp profile missing or not allowed"},
      {"pss-capabilities-restricted", "Capabilities dropped", C::kSecurity, S::kWarning,
       Scope::kPod, kPodsAndTemplates,
       "Even the runtime's default capabilities (NET_RAW, CHOWN, ...) are more than most "
       "processes need. The restricted Pod Security Standard requires every container to drop "
       "ALL and add at most NET_BIND_SERVICE (Windows pods are exempt from v1.25).",
       "Set securityContext.capabilities.drop: [\"ALL\"] on every container and add only "
       "NET_BIND_SERVICE if a port below 1024 is needed.",
       {"", "Capabilities", "restricted", "5.2.9, 5.2.10", kNsaPodSecurity},
       "Every container drops ALL capabilities", "Capabilities are not restricted"},
      {"pss-namespace-enforce", "Pod Security admission enforced", C::kSecurity, S::kWarning,
       Scope::kObject, "Namespaces",
       "Pod Security admission only rejects pods in namespaces whose "
       "pod-security.kubernetes.io/enforce label asks for it; without the label every pod is "
       "admitted. The finding says which level the namespace's pods already meet and which "
       "pods a stricter label would reject.",
       "Label the namespace pod-security.kubernetes.io/enforce=baseline (or restricted when "
       "its pods already meet it) and pin pod-security.kubernetes.io/enforce-version.",
       {"", "", "", "5.2.1", kNsaPodSecurity},
       "The namespace enforces a Pod Security level",
       "The namespace does not enforce a Pod Security level"},

      // ---- Polaris counterparts: security -------------------------------------------
      {"host-ipc", "Host IPC namespace", C::kSecurity, S::kDanger, Scope::kPod, kPodsAndTemplates,
       "hostIPC shares the node's System V IPC and POSIX message queues with the pod, so it can "
       "read and disturb other processes' shared memory.",
       "Remove spec.hostIPC or set it to false.",
       {"hostIPCSet", "Host Namespaces", "baseline", "5.2.4", kNsaPodSecurity},
       "Host IPC is not configured", "Host IPC should not be configured"},
      {"host-pid", "Host PID namespace", C::kSecurity, S::kDanger, Scope::kPod, kPodsAndTemplates,
       "hostPID lets the pod see every process on the node and, as root, signal or ptrace them "
       "and read their environment.",
       "Remove spec.hostPID or set it to false.",
       {"hostPIDSet", "Host Namespaces", "baseline", "5.2.3", kNsaPodSecurity},
       "Host PID is not configured", "Host PID should not be configured"},
      {"host-network", "Host network namespace", C::kSecurity, S::kDanger, Scope::kPod,
       kPodsAndTemplates,
       "hostNetwork puts the pod on the node's network stack: it can bind node ports, sniff "
       "node traffic and reach services bound to localhost, and network policies no longer "
       "apply to it.",
       "Remove spec.hostNetwork or set it to false; expose ports through a Service.",
       {"hostNetworkSet", "Host Namespaces", "baseline", "5.2.5", kNsaPodSecurity},
       "Host network is not configured", "Host network should not be configured"},
      {"host-port", "Host port", C::kSecurity, S::kWarning, Scope::kContainer, kPodsAndTemplates,
       "A hostPort binds a port on the node's address for this container, bypassing Services "
       "and network policies.",
       "Remove hostPort from the container's ports (or set it to 0).",
       {"hostPortSet", "Host Ports", "baseline", "5.2.13", kNsaPodSecurity},
       "Host port is not configured", "Host port should not be configured"},
      {"host-path", "HostPath volume", C::kSecurity, S::kWarning, Scope::kPod, kPodsAndTemplates,
       "A hostPath volume exposes a directory of the node to the pod, often enough to take over "
       "the node.",
       "Replace hostPath volumes with emptyDir, configMap, secret, projected or persistent "
       "volumes.",
       {"hostPathSet", "HostPath Volumes", "baseline", "5.2.12", kNsaPodSecurity},
       "HostPath volumes are not configured", "HostPath volumes must be forbidden"},
      {"host-process", "HostProcess", C::kSecurity, S::kWarning, Scope::kPod, kPodsAndTemplates,
       "A Windows HostProcess pod or container runs directly on the node with its privileges.",
       "Remove windowsOptions.hostProcess (or set it to false) on the pod and its containers.",
       {"hostProcess", "HostProcess", "baseline", "5.2.11", kNsaPodSecurity},
       "Privileged access to the host check is valid", "Privileged access to the host is disallowed"},
      {"proc-mount", "/proc mount", C::kSecurity, S::kWarning, Scope::kPod, kPodsAndTemplates,
       "An Unmasked /proc exposes kernel interfaces that the default mask hides from "
       "containers.",
       "Remove securityContext.procMount from the containers or set it to Default.",
       {"procMount", "/proc Mount Type", "baseline", "", kNsaHardening},
       "The default /proc masks are set up to reduce attack surface, and should be required",
       "Proc mount must not be changed from the default"},
      {"privileged", "Privileged container", C::kSecurity, S::kDanger, Scope::kContainer,
       kPodsAndTemplates,
       "A privileged container is root on the node: every capability, every device, no "
       "confinement.",
       "Remove securityContext.privileged or set it to false.",
       {"runAsPrivileged", "Privileged Containers", "baseline", "5.2.2", kNsaPodSecurity},
       "Not running as privileged", "Should not be running as privileged"},
      {"run-as-root", "Running as root allowed", C::kSecurity, S::kDanger, Scope::kContainer,
       kPodsAndTemplates,
       "Unless the pod or container says runAsNonRoot: true or a non-zero runAsUser, the image "
       "decides, and many images run as root.",
       "Set securityContext.runAsNonRoot: true (pod or container) or a runAsUser above 0.",
       {"runAsRootAllowed", "Running as Non-root", "restricted", "5.2.7", kNsaNonRoot},
       "Is not allowed to run as root", "Should not be allowed to run as root"},
      {"privilege-escalation", "Privilege escalation allowed", C::kSecurity, S::kDanger,
       Scope::kContainer, kPodsAndTemplates,
       "Without allowPrivilegeEscalation: false, setuid binaries and file capabilities can "
       "raise a process's privileges inside the container.",
       "Set securityContext.allowPrivilegeEscalation: false on the container.",
       {"privilegeEscalationAllowed", "Privilege Escalation", "restricted", "5.2.6",
        kNsaPodSecurity},
       "Privilege escalation not allowed", "Privilege escalation should not be allowed"},
      {"read-only-root-filesystem", "Writable root filesystem", C::kSecurity, S::kWarning,
       Scope::kContainer, kPodsAndTemplates,
       "A writable root filesystem lets an intruder drop tools and persist changes in the "
       "container; a read-only one forces writes into explicit volumes.",
       "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the "
       "application must write.",
       {"notReadOnlyRootFilesystem", "", "", "", kNsaImmutable},
       "Filesystem is read only", "Filesystem should be read only"},
      {"dangerous-capabilities", "Dangerous capabilities", C::kSecurity, S::kDanger,
       Scope::kContainer, kPodsAndTemplates,
       "ALL, SYS_ADMIN and NET_ADMIN each give root-equivalent control over the container's "
       "kernel view and often the node.",
       "Remove ALL, SYS_ADMIN and NET_ADMIN from securityContext.capabilities.add.",
       {"dangerousCapabilities", "Capabilities", "baseline", "5.2.9", kNsaPodSecurity},
       "Container does not have any dangerous capabilities",
       "Container should not have dangerous capabilities"},
      {"insecure-capabilities", "Insecure capabilities not dropped", C::kSecurity, S::kWarning,
       Scope::kContainer, kPodsAndTemplates,
       "The runtime's default capabilities (NET_RAW, CHOWN, SETUID, ...) are rarely needed and "
       "widen what a compromised process can do.",
       "Set securityContext.capabilities.drop: [\"ALL\"].",
       {"insecureCapabilities", "Capabilities", "restricted", "5.2.8, 5.2.10", kNsaPodSecurity},
       "Container does not have any insecure capabilities",
       "Container should not have insecure capabilities"},
      {"linux-hardening", "Linux hardening", C::kSecurity, S::kWarning, Scope::kContainer,
       kPodsAndTemplates,
       "AppArmor, seccomp, SELinux and dropped capabilities each confine a container; using none "
       "of them leaves it with the runtime's widest defaults.",
       "Set a seccomp profile (RuntimeDefault), SELinux options, an AppArmor profile or drop "
       "capabilities for the container.",
       {"linuxHardening", "", "", "5.7.3", kNsaHardening},
       "One of AppArmor, Seccomp, SELinux, or dropping Linux Capabilities are used to restrict "
       "containers using unwanted privileges",
       "Use one of AppArmor, Seccomp, SELinux, or dropping Linux Capabilities to restrict "
       "containers using unwanted privileges"},
      {"service-account-token-automount", "Service account token automounted", C::kSecurity,
       S::kWarning, Scope::kPod, kPodsAndTemplates,
       "A mounted service account token lets anyone who gets into the pod call the Kubernetes "
       "API with the pod's permissions; most applications never use it.",
       "Set automountServiceAccountToken: false on the pod (or on its ServiceAccount) unless "
       "the application calls the API.",
       {"automountServiceAccountToken", "", "", "5.1.6", kNsaTokens},
       "The ServiceAccount will not be automounted", "The ServiceAccount will be automounted"},
      {"sensitive-env-var", "Sensitive environment variable", C::kSecurity, S::kDanger,
       Scope::kContainer, kPodsAndTemplates,
       "A literal value in an environment variable named like a password, token or key ends up "
       "in the manifest, in Git and in every reader of the pod spec.",
       "Move the value into a Secret and reference it with valueFrom.secretKeyRef (or mount "
       "it as a file).",
       {"sensitiveContainerEnvVar", "", "", "5.4.1", kNsaSecrets},
       "The container does not set potentially sensitive environment variables",
       "The container sets potentially sensitive environment variables"},
      {"sensitive-configmap-content", "Sensitive ConfigMap content", C::kSecurity, S::kDanger,
       Scope::kObject, "ConfigMaps",
       "ConfigMaps are readable by far more subjects than Secrets and are not encrypted at "
       "rest; keys named like passwords or tokens and private keys do not belong there.",
       "Move the sensitive keys into a Secret.",
       {"sensitiveConfigmapContent", "", "", "5.4.1", kNsaSecrets},
       "The ConfigMap does not contain potentially sensitive content in its keys and values",
       "Potentially sensitive content is detected in the ConfigMap keys or values"},

      // ---- Polaris counterparts: network --------------------------------------------
      {"missing-network-policy", "NetworkPolicy missing", C::kNetwork, S::kWarning, Scope::kPod,
       kPodsAndTemplates,
       "Without a NetworkPolicy selecting the pod with both ingress and egress rules, every pod "
       "in the cluster can reach it and it can reach everything.",
       "Add a NetworkPolicy in the namespace whose podSelector.matchLabels selects the pod's "
       "labels and that declares ingress and egress rules.",
       {"missingNetworkPolicy", "", "", "5.3.2", kNsaNetworkPolicies},
       "A NetworkPolicy matches pod labels and contains egress and ingress rules",
       "A NetworkPolicy should match pod labels and contain applied egress and ingress rules"},
      {"ingress-tls", "Ingress without TLS", C::kNetwork, S::kWarning, Scope::kObject, "Ingresses",
       "An Ingress without a tls section serves plain HTTP: credentials and sessions cross the "
       "network readable.",
       "Add spec.tls with the hosts and a certificate Secret.",
       {"tlsSettingsMissing", "", "", "", kNsaEncryption},
       "Ingress has TLS configured", "Ingress does not have TLS configured"},

      // ---- Polaris counterparts: RBAC ------------------------------------------------
      {"clusterrole-pod-exec-attach", "ClusterRole allows exec/attach", C::kRbac, S::kDanger,
       Scope::kObject, "ClusterRoles (except admin, cluster-admin, edit and system: roles)",
       "pods/exec and pods/attach run commands inside any pod the role reaches, with that pod's "
       "service account and secrets.",
       "Remove pods/exec and pods/attach (and wildcards covering them) from the ClusterRole's "
       "rules.",
       {"clusterrolePodExecAttach", "", "", "", kNsaRbac},
       "The ClusterRole does not allow pods/exec or pods/attach",
       "The ClusterRole allows Pods/exec or pods/attach"},
      {"role-pod-exec-attach", "Role allows exec/attach", C::kRbac, S::kDanger, Scope::kObject,
       "Roles (except system: roles)",
       "pods/exec and pods/attach run commands inside any pod of the namespace, with that pod's "
       "service account and secrets.",
       "Remove pods/exec and pods/attach (and wildcards covering them) from the Role's rules.",
       {"rolePodExecAttach", "", "", "", kNsaRbac},
       "The Role does not allow pods/exec or pods/attach", "The Role allows Pods/exec or pods/attach"},
      {"clusterrolebinding-pod-exec-attach", "ClusterRoleBinding grants exec/attach", C::kRbac,
       S::kDanger, Scope::kObject, "ClusterRoleBindings (except cluster-admin and system: ones)",
       "Binding a ClusterRole that allows pods/exec or pods/attach cluster-wide lets the "
       "subjects run commands in every pod of the cluster.",
       "Bind a ClusterRole without pods/exec and pods/attach, or bind it per namespace with a "
       "RoleBinding where exec is really needed.",
       {"clusterrolebindingPodExecAttach", "", "", "", kNsaRbac},
       "The ClusterRoleBinding does not reference a ClusterRole allowing pods/exec or pods/attach",
       "The ClusterRoleBinding references a ClusterRole that allows Pods/exec, allows "
       "pods/attach, or that does not exist"},
      {"rolebinding-clusterrole-pod-exec-attach", "RoleBinding grants exec/attach (ClusterRole)",
       C::kRbac, S::kDanger, Scope::kObject, "RoleBindings to ClusterRoles (except system: ones)",
       "Binding a ClusterRole that allows pods/exec or pods/attach lets the subjects run "
       "commands in every pod of the namespace.",
       "Bind a ClusterRole without pods/exec and pods/attach.",
       {"rolebindingClusterRolePodExecAttach", "", "", "", kNsaRbac},
       "The RoleBinding does not reference a ClusterRole allowing pods/exec or pods/attach",
       "The RoleBinding references a ClusterRole that allows Pods/exec, allows pods/attach, or "
       "that does not exist"},
      {"rolebinding-role-pod-exec-attach", "RoleBinding grants exec/attach (Role)", C::kRbac,
       S::kDanger, Scope::kObject, "RoleBindings to Roles (except system: ones)",
       "Binding a Role that allows pods/exec or pods/attach lets the subjects run commands in "
       "every pod of the namespace.",
       "Bind a Role without pods/exec and pods/attach.",
       {"rolebindingRolePodExecAttach", "", "", "", kNsaRbac},
       "The RoleBinding does not reference a Role allowing Pod exec or attach",
       "The RoleBinding references a Role that allows Pods/exec, allows pods/attach, or that "
       "does not exist"},
      {"clusterrolebinding-cluster-admin", "ClusterRoleBinding to cluster-admin", C::kRbac,
       S::kDanger, Scope::kObject, "ClusterRoleBindings (except cluster-admin and system: ones)",
       "cluster-admin, or any ClusterRole with wildcard verbs on wildcard resources, is full "
       "control of the cluster; bound cluster-wide its subjects own everything.",
       "Bind a ClusterRole with only the verbs and resources the subjects need.",
       {"clusterrolebindingClusterAdmin", "", "", "5.1.1", kNsaRbac},
       "The ClusterRoleBinding does not reference the default cluster-admin ClusterRole or one "
       "with wildcard permissions",
       "The ClusterRoleBinding references the default cluster-admin ClusterRole or one with "
       "wildcard permissions"},
      {"rolebinding-cluster-admin-clusterrole", "RoleBinding to cluster-admin", C::kRbac,
       S::kDanger, Scope::kObject, "RoleBindings to ClusterRoles (except system: ones)",
       "Binding cluster-admin, or a ClusterRole with wildcard permissions, in a namespace gives "
       "full control over everything in it, Secrets and RoleBindings included.",
       "Bind a ClusterRole with only the verbs and resources the subjects need (admin or edit "
       "at most).",
       {"rolebindingClusterAdminClusterRole", "", "", "5.1.1", kNsaRbac},
       "The RoleBinding does not reference the default cluster-admin ClusterRole or one with "
       "wildcard permissions",
       "The RoleBinding references the default cluster-admin ClusterRole or one with wildcard "
       "permissions"},
      {"rolebinding-cluster-admin-role", "RoleBinding to a wildcard Role", C::kRbac, S::kDanger,
       Scope::kObject, "RoleBindings to Roles (except system: ones)",
       "A Role with wildcard verbs on wildcard resources is full control over the namespace.",
       "Give the Role only the verbs and resources the subjects need.",
       {"rolebindingClusterAdminRole", "", "", "5.1.3", kNsaRbac},
       "The RoleBinding does not reference a Role with wildcard permissions",
       "The RoleBinding references a Role with wildcard permissions"},

      // ---- Polaris counterparts: reliability -----------------------------------------
      {"readiness-probe", "Readiness probe missing", C::kReliability, S::kWarning,
       Scope::kContainer, "Containers of Pods and workloads (not Jobs, CronJobs, init containers)",
       "Without a readiness probe a pod receives traffic as soon as its process starts, and "
       "keeps receiving it when it can no longer serve.",
       "Add a readinessProbe that checks the application can serve.",
       {"readinessProbeMissing", "", "", "", ""},
       "Readiness probe is configured", "Readiness probe should be configured"},
      {"liveness-probe", "Liveness probe missing", C::kReliability, S::kWarning, Scope::kContainer,
       "Containers of Pods and workloads (not Jobs, CronJobs, init containers)",
       "Without a liveness probe a hung process is never restarted.",
       "Add a livenessProbe that fails only when a restart would help.",
       {"livenessProbeMissing", "", "", "", ""},
       "Liveness probe is configured", "Liveness probe should be configured"},
      {"image-tag", "Image tag not specified", C::kReliability, S::kDanger, Scope::kContainer,
       kPodsAndTemplates,
       "An image without a tag, or tagged latest, changes under the workload: two pods of one "
       "Deployment can run different code and a rollback does not roll back.",
       "Pin the image to a version tag (or a digest).",
       {"tagNotSpecified", "", "", "", kNsaImages},
       "Image tag is specified", "Image tag should be specified"},
      {"image-pull-policy", "Image pull policy not Always", C::kReliability, S::kWarning,
       Scope::kContainer, kPodsAndTemplates,
       "With IfNotPresent a node keeps running whatever it pulled under a tag before; Always "
       "makes every start check the registry (and its authorization).",
       "Set imagePullPolicy: Always.",
       {"pullPolicyNotAlways", "", "", "", ""},
       "Image pull policy is \"Always\"", "Image pull policy should be \"Always\""},
      {"deployment-replicas", "Single replica", C::kReliability, S::kWarning, Scope::kObject,
       "Deployments",
       "One replica means every node drain, eviction or crash is an outage.",
       "Set spec.replicas to 2 or more (or let a HorizontalPodAutoscaler manage it).",
       {"deploymentMissingReplicas", "", "", "", ""},
       "Multiple replicas are scheduled", "Only one replica is scheduled"},
      {"pod-disruption-budget", "PodDisruptionBudget missing", C::kReliability, S::kWarning,
       Scope::kObject, "Deployments",
       "Without a PodDisruptionBudget a node drain may evict every replica at once.",
       "Add a PodDisruptionBudget whose selector matches the Deployment's pod labels.",
       {"missingPodDisruptionBudget", "", "", "", ""},
       "A PodDisruptionBudget is attached", "Should have a PodDisruptionBudget"},
      {"pdb-disruptions-zero", "PodDisruptionBudget allows no disruption", C::kReliability,
       S::kWarning, Scope::kObject, "PodDisruptionBudgets",
       "minAvailable 100% or maxUnavailable 0 blocks every voluntary eviction: node drains and "
       "cluster upgrades hang.",
       "Allow at least one disruption (maxUnavailable: 1, or minAvailable below the replica "
       "count).",
       {"pdbDisruptionsIsZero", "", "", "", ""},
       "Voluntary evictions are possible", "Voluntary evictions are not possible"},
      {"hpa-max-availability", "HPA max not above min", C::kReliability, S::kWarning,
       Scope::kObject, "HorizontalPodAutoscalers",
       "An autoscaler whose maxReplicas is not above minReplicas cannot scale.",
       "Set maxReplicas above minReplicas.",
       {"hpaMaxAvailability", "", "", "", ""},
       "HPA has a valid max and min replica configuration",
       "HPA maxReplicas and minReplicas should be different"},
      {"hpa-min-availability", "HPA min below 2", C::kReliability, S::kWarning, Scope::kObject,
       "HorizontalPodAutoscalers",
       "An autoscaler allowed to scale down to one replica reintroduces a single point of "
       "failure.",
       "Set minReplicas to 2 or more.",
       {"hpaMinAvailability", "", "", "", ""},
       "HPA has a valid min replica configuration", "HPA minReplicas should be 2 or more"},
      {"pdb-min-available-vs-hpa", "PDB minAvailable blocks HPA minimum", C::kReliability,
       S::kWarning, Scope::kObject, "Deployments with a PodDisruptionBudget and an HPA",
       "When the PodDisruptionBudget's minAvailable is at least the autoscaler's minReplicas, a "
       "Deployment scaled to its minimum can never be disrupted.",
       "Lower minAvailable below the HorizontalPodAutoscaler's minReplicas (or raise "
       "minReplicas).",
       {"pdbMinAvailableGreaterThanOrEqualToHPAMinReplicas", "", "", "", ""},
       "PDB minAvailable is below the HPA minReplicas",
       "PDB minAvailable is greater than or equal to the HPA minReplicas"},
      {"topology-spread", "Topology spread constraint missing", C::kReliability, S::kWarning,
       Scope::kPod, "Pods and workloads (not Jobs or CronJobs)",
       "Without topology spread constraints the scheduler may place every replica on one node "
       "or in one zone.",
       "Add spec.topologySpreadConstraints (for example across kubernetes.io/hostname and "
       "topology.kubernetes.io/zone).",
       {"topologySpreadConstraint", "", "", "", ""},
       "Pod has a valid topology spread constraint",
       "Pod should be configured with a valid topology spread constraint"},
      {"priority-class", "Priority class not set", C::kReliability, S::kWarning, Scope::kPod,
       kPodsAndTemplates,
       "Without a priority class the scheduler cannot tell which pods to keep when the cluster "
       "is short of resources.",
       "Set spec.priorityClassName.",
       {"priorityClassNotSet", "", "", "", ""},
       "Priority class has been set", "Priority class should be set"},
      {"metadata-instance-label", "Instance label mismatch", C::kReliability, S::kWarning,
       Scope::kObject, "Workloads",
       "Tools group objects by app.kubernetes.io/instance; a missing or different value breaks "
       "that grouping.",
       "Set the label app.kubernetes.io/instance to the object's name.",
       {"metadataAndInstanceMismatched", "", "", "", ""},
       "Label app.kubernetes.io/instance matches metadata.name",
       "Label app.kubernetes.io/instance must match metadata.name"},

      // ---- Polaris counterparts: efficiency ------------------------------------------
      {"cpu-requests", "CPU requests missing", C::kEfficiency, S::kWarning, Scope::kContainer,
       "Containers of Pods and workloads (not init containers)",
       "Without a CPU request the scheduler places the pod as if it needed nothing and the "
       "container gets the smallest share under contention.",
       "Set resources.requests.cpu.",
       {"cpuRequestsMissing", "", "", "", kNsaResources},
       "CPU requests are set", "CPU requests should be set"},
      {"cpu-limits", "CPU limits missing", C::kEfficiency, S::kWarning, Scope::kContainer,
       "Containers of Pods and workloads (not init containers)",
       "Without a CPU limit one container can take every core of its node.",
       "Set resources.limits.cpu.",
       {"cpuLimitsMissing", "", "", "", kNsaResources},
       "CPU limits are set", "CPU limits should be set"},
      {"memory-requests", "Memory requests missing", C::kEfficiency, S::kWarning,
       Scope::kContainer, "Containers of Pods and workloads (not init containers)",
       "Without a memory request the scheduler overcommits nodes and the pod is among the first "
       "to be evicted under memory pressure.",
       "Set resources.requests.memory.",
       {"memoryRequestsMissing", "", "", "", kNsaResources},
       "Memory requests are set", "Memory requests should be set"},
      {"memory-limits", "Memory limits missing", C::kEfficiency, S::kWarning, Scope::kContainer,
       "Containers of Pods and workloads (not init containers)",
       "Without a memory limit a leaking container pushes its node into memory pressure and "
       "gets other pods evicted.",
       "Set resources.limits.memory.",
       {"memoryLimitsMissing", "", "", "", kNsaResources},
       "Memory limits are set", "Memory limits should be set"},

      // ---- RBAC analysis beyond Polaris ----------------------------------------------
      {"rbac-secrets-cluster-wide", "Secrets readable cluster-wide", C::kRbac, S::kDanger,
       Scope::kObject, "ClusterRoleBindings (except system: ones and the defaults Kubernetes bootstraps)",
       "get, list or watch on Secrets across all namespaces reads every credential in the "
       "cluster, service account tokens included.",
       "Grant Secret access per namespace with RoleBindings, limited by resourceNames where "
       "possible.",
       {"", "", "", "5.1.2", kNsaRbac},
       "The binding does not grant reading Secrets cluster-wide",
       "The binding grants reading Secrets cluster-wide"},
      {"rbac-pod-exec", "Subjects can exec into pods", C::kRbac, S::kDanger, Scope::kObject,
       "ClusterRoleBindings and RoleBindings (except system: ones and the defaults Kubernetes bootstraps)",
       "create on pods/exec or pods/attach runs commands in pods, with their service accounts "
       "and mounted secrets.",
       "Remove pods/exec and pods/attach from the bound role, or bind it only in the namespaces "
       "where it is needed.",
       {"", "", "", "", kNsaRbac},
       "The binding does not grant exec or attach into pods",
       "The binding grants exec or attach into pods"},
      {"rbac-escalation", "Subjects can escalate, bind or impersonate", C::kRbac, S::kDanger,
       Scope::kObject, "ClusterRoleBindings and RoleBindings (except system: ones and the defaults Kubernetes bootstraps)",
       "escalate and bind on roles grant permissions the subject does not hold; impersonate acts "
       "as any user, group or service account. Each is a path to cluster-admin.",
       "Remove escalate, bind and impersonate from the bound role.",
       {"", "", "", "5.1.8", kNsaRbac},
       "The binding grants no escalate, bind or impersonate",
       "The binding grants escalate, bind or impersonate"},
      {"rbac-wildcard", "Wildcard in role", C::kRbac, S::kWarning, Scope::kObject,
       "Roles and ClusterRoles (except system: roles and the default admin, edit, view, "
       "cluster-admin)",
       "A wildcard in verbs, resources or apiGroups grants everything that exists now and "
       "everything a future CRD or API version adds.",
       "List the verbs, resources and API groups explicitly.",
       {"", "", "", "5.1.3", kNsaRbac},
       "The role uses no wildcard", "The role uses wildcards"},
      {"rbac-default-service-account", "Default service account bound", C::kRbac, S::kWarning,
       Scope::kObject, "ClusterRoleBindings and RoleBindings (except system: ones and the defaults Kubernetes bootstraps)",
       "Every pod that names no service account runs as its namespace's default one; granting "
       "it permissions grants them to all those pods.",
       "Create a dedicated ServiceAccount, bind the role to it and set serviceAccountName in the "
       "pods that need it.",
       {"", "", "", "5.1.5", kNsaRbac},
       "The binding does not grant permissions to a default service account",
       "The binding grants permissions to a default service account"},
      {"rbac-anonymous", "Anonymous access granted", C::kRbac, S::kDanger, Scope::kObject,
       "ClusterRoleBindings and RoleBindings (except the defaults Kubernetes bootstraps)",
       "Bindings to system:anonymous or system:unauthenticated give everyone who reaches the API "
       "server those permissions without credentials.",
       "Remove system:anonymous and system:unauthenticated from the binding's subjects.",
       {"", "", "", "", kNsaAuthn},
       "The binding grants no resource access to unauthenticated users",
       "The binding grants resource access to unauthenticated users"},
      {"rbac-system-masters", "Binding to system:masters", C::kRbac, S::kDanger, Scope::kObject,
       "ClusterRoleBindings and RoleBindings (except the defaults Kubernetes bootstraps)",
       "Members of system:masters bypass authorization entirely and cannot be restricted by "
       "RBAC; binding roles to the group suggests credentials are issued for it.",
       "Do not issue credentials in system:masters; grant cluster-admin through a normal group "
       "instead.",
       {"", "", "", "5.1.7", kNsaRbac},
       "The binding does not name system:masters", "The binding names system:masters"},
  };
  assert(v.size() == static_cast<size_t>(CheckId::kCount));
  return v;
}

}  // namespace

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kIgnore: return "ignore";
    case Severity::kWarning: return "warning";
    case Severity::kDanger: return "danger";
  }
  return "warning";
}

std::string_view CategoryName(Category c) {
  switch (c) {
    case Category::kSecurity: return "security";
    case Category::kReliability: return "reliability";
    case Category::kEfficiency: return "efficiency";
    case Category::kNetwork: return "network";
    case Category::kRbac: return "rbac";
  }
  return "security";
}

bool ParseSeverity(std::string_view text, Severity* out) {
  for (Severity s : {Severity::kIgnore, Severity::kWarning, Severity::kDanger}) {
    if (EqualsIgnoreCase(text, SeverityName(s))) {
      *out = s;
      return true;
    }
  }
  // Polaris' older name for danger.
  if (EqualsIgnoreCase(text, "error")) {
    *out = Severity::kDanger;
    return true;
  }
  return false;
}

bool ParseCategory(std::string_view text, Category* out) {
  for (Category c : {Category::kSecurity, Category::kReliability, Category::kEfficiency,
                     Category::kNetwork, Category::kRbac}) {
    if (EqualsIgnoreCase(text, CategoryName(c))) {
      *out = c;
      return true;
    }
  }
  return false;
}

const std::vector<CheckInfo>& Catalogue() {
  static const std::vector<CheckInfo> catalogue = Build();
  return catalogue;
}

const CheckInfo* FindCheck(std::string_view name) {
  for (const CheckInfo& c : Catalogue()) {
    if (c.id == name || (!c.aliases.polaris.empty() && c.aliases.polaris == name)) return &c;
  }
  return nullptr;
}

}  // namespace srexpert::scan
